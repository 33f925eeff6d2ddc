#!/usr/bin/env python3
"""Access tokens for scripts that call a Switchyard server.

Log in once with the device flow, then get a valid access token whenever a script needs one:

    python3 switchyard_auth.py authenticate [--force] [--server URL]
    python3 switchyard_auth.py get_access_token
    python3 switchyard_auth.py get_time_until_token_expiration --units seconds|minutes|hours

    from switchyard_auth import get_access_token

The commands and the function are those of the reference service's `inference_auth_token.py`,
so a script written for it only needs its base URL changed (saved under that name, this file
replaces it as it is). The login is the one `sy login` stores: the same token file
($XDG_CONFIG_HOME/switchyard/tokens.json, else ~/.config/switchyard/tokens.json, mode 0600),
the same lock while refreshing, so `sy` and this helper share one login and never present the
same refresh token twice.

The server: --server URL, else the SWITCHYARD_URL environment variable, else the server of the
last login (`sy login` or `authenticate`), else http://127.0.0.1:8080.

Exit codes: 0 done, 1 failed, 2 login needed (or a usage error), 3 server unreachable, 130 Ctrl-C.
Python 3.8 or later, standard library only. Fetch it from any Switchyard server with
`curl -O <server>/clients/switchyard_auth.py`.
"""

import argparse
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timezone

DEFAULT_SERVER = "http://127.0.0.1:8080"
# The device client this helper logs in as (sy uses "sy-cli"); refreshes reuse a login's own client.
CLIENT_ID = "switchyard-auth-py"
# A token handed out stays valid at least this long (the same margin as sy).
REFRESH_MARGIN_SECONDS = 5 * 60
# The token file's lock, as sy takes it: `<file>.lock`, a directory made exclusively, which its
# holder touches every LOCK_UPDATE_SECONDS; one untouched for LOCK_STALE_SECONDS was left by a
# process that died and is taken over.
LOCK_STALE_SECONDS = 10
LOCK_UPDATE_SECONDS = 2
LOCK_WAIT_SECONDS = 40
HTTP_TIMEOUT_SECONDS = 30
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600}
SESSION_FIELDS = ("username", "user_id", "access_token", "refresh_token", "expires_at", "logged_in_at", "client_id")

SCRIPT = os.path.basename(__file__)


# ---- errors -------------------------------------------------------------------------------


class SwitchyardAuthError(Exception):
    """Every error of this helper; the message says what to do."""

    exit_code = 1


class LoginRequiredError(SwitchyardAuthError):
    """No usable login for the server: never logged in, revoked, or 7 days after the last login."""

    exit_code = 2


class IdentityMismatchError(SwitchyardAuthError):
    """The device login was approved as someone other than the user stored for the server."""

    exit_code = 2


class LoginFailedError(SwitchyardAuthError):
    """The device login was denied, expired or refused."""

    exit_code = 2


class ServerUnreachableError(SwitchyardAuthError):
    exit_code = 3


class TokenStoreError(SwitchyardAuthError):
    """The token file cannot be read, written or locked."""


class _OAuthAnswer(Exception):
    """An /auth/* endpoint answered with an OAuth error (RFC 6749)."""

    def __init__(self, status, error, description):
        super().__init__("{}: {}".format(error, description) if description else error)
        self.status = status
        self.error = error
        self.description = description


def _command(action, server=None):
    """The command line that fixes a problem, with --server when the default would pick another."""
    words = ["python3", SCRIPT, action]
    if server is not None and server != _implicit_server():
        words += ["--server", server]
    return " ".join(words)


# ---- time ---------------------------------------------------------------------------------


def _now():
    return time.time()


def _iso(seconds):
    """The JavaScript `toISOString` spelling sy writes: 2026-11-27T09:00:00.000Z."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "{:03d}Z".format(moment.microsecond // 1000)


def _parse_iso(text):
    """Seconds since the epoch of an ISO 8601 UTC time (`Z` or an offset); None when it is not one."""
    if not isinstance(text, str):
        return None
    value = text.strip()
    if value.endswith("Z") or value.endswith("z"):
        value = value[:-1] + "+00:00"
    if "." in value:
        # fromisoformat before Python 3.11 takes 3 or 6 fraction digits only.
        head, _, rest = value.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        value = "{}.{}{}".format(head, (digits + "000000")[:6], rest)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


# ---- the server ---------------------------------------------------------------------------


def normalize_server(url):
    """One spelling per server, as sy spells it: scheme://host[:port][/prefix], no trailing / or /v1."""
    text = url.strip()
    parts = urllib.parse.urlsplit(text if "://" in text else "http://" + text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SwitchyardAuthError("'{}' is not an http(s) URL; expected something like {}.".format(url, DEFAULT_SERVER))
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:
        host = None
    if not host:
        raise SwitchyardAuthError("'{}' is not a server URL; expected something like {}.".format(url, DEFAULT_SERVER))
    if ":" in host:
        host = "[{}]".format(host)
    default_port = 80 if scheme == "http" else 443
    netloc = host if port in (None, default_port) else "{}:{}".format(host, port)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return "{}://{}{}".format(scheme, netloc, path)


def _implicit_server():
    """The server chosen without --server: SWITCHYARD_URL, the last login's, the default."""
    if os.environ.get("SWITCHYARD_URL"):
        return normalize_server(os.environ["SWITCHYARD_URL"])
    try:
        stored = TokenStore().read().get("default_server")
    except SwitchyardAuthError:
        stored = None
    return stored if isinstance(stored, str) and stored else DEFAULT_SERVER


def _choose_server(server):
    return normalize_server(server) if server else _implicit_server()


def _network_reason(error):
    reason = getattr(error, "reason", error)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (is it running? 'switchyard serve' starts one)"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    return str(reason)


def _http(server, method, path, form=None, token=None):
    """(status, parsed JSON body or None) of one request to the server."""
    headers = {"accept": "application/json", "user-agent": "switchyard_auth.py (Python {})".format(sys.version.split()[0])}
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode("ascii")
        headers["content-type"] = "application/x-www-form-urlencoded"
    if token is not None:
        headers["authorization"] = "Bearer " + token
    request = urllib.request.Request(server + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        raise ServerUnreachableError(
            "Cannot reach the Switchyard server at {}: {}.".format(server, _network_reason(error))
        ) from None
    try:
        return status, json.loads(body.decode("utf-8"))
    except ValueError:
        return status, None


def _oauth_post(server, path, form):
    status, body = _http(server, "POST", path, form=form)
    if 200 <= status < 300 and isinstance(body, dict):
        return body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        raise _OAuthAnswer(status, body["error"], body.get("error_description") or "")
    raise SwitchyardAuthError(
        "{} answered POST {} with HTTP {} and no OAuth body; is it a Switchyard server?".format(server, path, status)
    )


def _tokens_from(answer, server):
    ok = (
        isinstance(answer.get("access_token"), str)
        and isinstance(answer.get("refresh_token"), str)
        and isinstance(answer.get("expires_in"), (int, float))
    )
    if not ok:
        raise SwitchyardAuthError("The server at {} answered with tokens in an unexpected shape.".format(server))
    return answer


# ---- the token file -----------------------------------------------------------------------


def token_path():
    """$XDG_CONFIG_HOME/switchyard/tokens.json, else ~/.config/switchyard/tokens.json (as sy)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "switchyard", "tokens.json")


def _problem_of(data):
    """What is wrong with a parsed token file, or None (the checks sy makes)."""
    if not isinstance(data, dict):
        return "does not hold a JSON object"
    if data.get("version") != 1:
        return "has an unknown version ({}; this helper reads version 1)".format(json.dumps(data.get("version")))
    if data.get("default_server") is not None and not isinstance(data.get("default_server"), str):
        return "has a bad 'default_server'"
    servers = data.get("servers")
    if not isinstance(servers, dict):
        return "has no 'servers' object"
    for server, entry in servers.items():
        if not isinstance(entry, dict):
            return "has a bad entry for {}".format(server)
        for field in SESSION_FIELDS:
            if not isinstance(entry.get(field), str):
                return "has a bad entry for {} (field '{}' is missing or not a string)".format(server, field)
        if _parse_iso(entry["expires_at"]) is None:
            return "has a bad entry for {} ('expires_at' is not a date)".format(server)
    return None


class TokenStore:
    """sy's token file: one entry per server, written atomically under `<file>.lock`."""

    def __init__(self, path=None):
        self.path = os.path.abspath(path or token_path())

    def _fix(self):
        return "Fix: run '{}', which starts a new file (keeping this one as {}.corrupt), or delete it.".format(
            _command("authenticate --force"), self.path
        )

    def read(self):
        try:
            with open(self.path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return {"version": 1, "default_server": None, "servers": {}}
        except PermissionError:
            raise TokenStoreError(
                "The token file {} cannot be read (permission denied). "
                "Fix: check its owner and mode (it should be yours, mode 600).".format(self.path)
            ) from None
        except IsADirectoryError:
            raise TokenStoreError("The token file {} is a directory. Fix: move it away.".format(self.path)) from None
        except (OSError, UnicodeDecodeError) as error:
            raise TokenStoreError("The token file {} cannot be read ({}). {}".format(self.path, error, self._fix())) from None
        try:
            data = json.loads(text)
        except ValueError as error:
            raise TokenStoreError("The token file {} is not valid JSON ({}). {}".format(self.path, error, self._fix())) from None
        problem = _problem_of(data)
        if problem:
            raise TokenStoreError("The token file {} is damaged: it {}. {}".format(self.path, problem, self._fix()))
        for entry in data["servers"].values():
            entry.setdefault("refreshed_at", None)
        return data

    def write(self, data):
        """Replace the whole file: a temporary file (0600), fsync, rename."""
        directory = os.path.dirname(self.path)
        tmp = "{}.{}.{:08x}.tmp".format(self.path, os.getpid(), random.getrandbits(32))
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as error:
            raise TokenStoreError(
                "The token file {} cannot be written ({}). Fix: make {} writable for you, "
                "or set XDG_CONFIG_HOME to a directory that is.".format(self.path, error, directory)
            ) from None

    def move_aside(self):
        try:
            os.replace(self.path, self.path + ".corrupt")
        except FileNotFoundError:
            pass

    @contextmanager
    def locked(self):
        """Hold `<file>.lock` as sy does: a directory made exclusively, kept fresh, taken over when stale."""
        lock = self.path + ".lock"
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        except OSError as error:
            raise TokenStoreError(
                "The token file {} cannot be created ({}). Fix: set XDG_CONFIG_HOME to a writable directory.".format(
                    self.path, error
                )
            ) from None
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                os.mkdir(lock, 0o700)
                break
            except FileExistsError:
                if _lock_is_stale(lock):
                    _remove_lock(lock)
                    continue
                if time.monotonic() > deadline:
                    raise TokenStoreError(
                        "The token file {} stays locked by another sy or {} process. "
                        "Fix: if none is running, delete {} (rm -r {}).".format(self.path, SCRIPT, lock, lock)
                    ) from None
                time.sleep(0.025 + random.random() * 0.05)
            except OSError as error:
                raise TokenStoreError(
                    "The token file {} cannot be locked ({}). Fix: make its directory writable for you.".format(
                        self.path, error
                    )
                ) from None
        done = threading.Event()

        def keep_fresh():
            while not done.wait(LOCK_UPDATE_SECONDS):
                try:
                    os.utime(lock)
                except OSError:
                    return

        toucher = threading.Thread(target=keep_fresh, daemon=True)
        toucher.start()
        try:
            yield
        finally:
            done.set()
            toucher.join()
            _remove_lock(lock)


def _lock_is_stale(lock):
    """Not touched for LOCK_STALE_SECONDS: its holder died (or its machine slept)."""
    try:
        return time.time() - os.stat(lock).st_mtime > LOCK_STALE_SECONDS
    except OSError:
        return False  # vanished meanwhile: the next attempt decides


def _remove_lock(lock):
    """Remove a lock: a directory, or the `pid@host` file of an older sy or helper."""
    try:
        os.rmdir(lock)
    except NotADirectoryError:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
    except FileNotFoundError:
        pass  # another process took it over first


# ---- logins -------------------------------------------------------------------------------


def _not_logged_in(server):
    return LoginRequiredError(
        "Not logged in to {}. Run '{}' (or 'sy login').".format(server, _command("authenticate", server))
    )


def _session_ended(server, detail):
    """The server's own words ('... run 'sy login'') with this helper's command as the fix."""
    why = detail or "the session ended"
    if why.lower().startswith("login required:"):
        why = why[len("login required:") :].strip()
    fix = _command("authenticate", server)
    for said in ("log in again with 'sy login'", "run 'sy login'"):
        why = why.replace(said, "run '{}'".format(fix))
    if fix not in why:
        why = "{}; run '{}'".format(why, fix)
    return LoginRequiredError("Login required for {}: {}.".format(server, why))


def _fresh(session):
    expires = _parse_iso(session.get("expires_at"))
    return expires is not None and expires - _now() > REFRESH_MARGIN_SECONDS


def _refresh(store, server, rejected=None):
    """A new access token through the refresh grant, under the lock; reuses one another process got."""
    with store.locked():
        data = store.read()
        session = data["servers"].get(server)
        if session is None:
            raise _not_logged_in(server)
        # sy (or another script) refreshed while this process waited for the lock.
        if session["access_token"] != rejected and _fresh(session):
            return session["access_token"]
        try:
            answer = _oauth_post(
                server,
                "/auth/token",
                {
                    "grant_type": "refresh_token",
                    "refresh_token": session["refresh_token"],
                    "client_id": session["client_id"],
                },
            )
        except _OAuthAnswer as answer_error:
            if answer_error.error == "invalid_grant":
                raise _session_ended(server, answer_error.description) from None
            raise SwitchyardAuthError("Refreshing the login at {} failed: {}.".format(server, answer_error)) from None
        tokens = _tokens_from(answer, server)
        now = _now()
        session.update(
            access_token=tokens["access_token"],
            refresh_token=tokens["refresh_token"],
            expires_at=_iso(now + tokens["expires_in"]),
            refreshed_at=_iso(now),
        )
        store.write(data)
        return session["access_token"]


def get_access_token(server=None):
    """A valid access token for the server (refreshed first when it has less than 5 minutes left)."""
    store = TokenStore()
    chosen = _choose_server(server)
    session = store.read()["servers"].get(chosen)
    if session is None:
        raise _not_logged_in(chosen)
    if _fresh(session):
        return session["access_token"]
    return _refresh(store, chosen)


def get_time_until_token_expiration(units="seconds", server=None):
    """Time left on the stored access token, rounded to 0.01; negative once it has expired."""
    if units not in UNITS:
        raise SwitchyardAuthError("units must be 'seconds', 'minutes' or 'hours', not '{}'.".format(units))
    chosen = _choose_server(server)
    session = TokenStore().read()["servers"].get(chosen)
    if session is None:
        raise _not_logged_in(chosen)
    return round((_parse_iso(session["expires_at"]) - _now()) / UNITS[units], 2)


def _whoami(server, token):
    status, body = _http(server, "GET", "/v1/me", token=token)
    if status == 200 and isinstance(body, dict) and isinstance(body.get("username"), str):
        return body
    if status == 401:
        return None
    message = body.get("error", {}).get("message") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    raise SwitchyardAuthError("{} answered GET /v1/me with HTTP {}{}.".format(server, status, ": " + message if message else ""))


def _say(text=""):
    print(text, file=sys.stderr, flush=True)


def _device_login(server):
    """The device authorization grant (RFC 8628): show the page and code, poll until approved."""
    try:
        code = _oauth_post(server, "/auth/device/code", {"client_id": CLIENT_ID})
    except _OAuthAnswer as error:
        raise LoginFailedError("The server at {} refused to start a login: {}.".format(server, error)) from None
    if not all(isinstance(code.get(key), str) for key in ("device_code", "user_code", "verification_uri")):
        raise SwitchyardAuthError("{} answered POST /auth/device/code in an unexpected shape.".format(server))
    page = code.get("verification_uri_complete") or "{}?user_code={}".format(
        code["verification_uri"], urllib.parse.quote(code["user_code"])
    )
    expires_in = int(code.get("expires_in") or 600)
    _say("To log in to {}, open this page in a browser:".format(server))
    _say()
    _say("  {}".format(page))
    _say()
    _say(
        "and check that it shows the code {}. The code expires in {} min.".format(
            code["user_code"], max(1, round(expires_in / 60))
        )
    )
    _say("Waiting for approval (Ctrl-C to cancel)...")
    interval = max(1, int(code.get("interval") or 5))
    deadline = time.monotonic() + expires_in
    while True:
        time.sleep(interval)
        try:
            return _tokens_from(
                _oauth_post(
                    server,
                    "/auth/token",
                    {
                        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                        "device_code": code["device_code"],
                        "client_id": CLIENT_ID,
                    },
                ),
                server,
            )
        except _OAuthAnswer as error:
            if error.error == "authorization_pending" and time.monotonic() < deadline:
                continue
            if error.error == "slow_down":
                interval += 5
                continue
            if error.error == "access_denied":
                raise LoginFailedError("The login was denied at {}/device. Nothing was stored.".format(server)) from None
            if error.error in ("expired_token", "authorization_pending"):
                raise LoginFailedError(
                    "The code expired before it was approved. Run '{}' again and approve the new code in time.".format(
                        _command("authenticate", server)
                    )
                ) from None
            raise LoginFailedError("The login failed: {}.".format(error)) from None


def _revoke(server, token):
    try:
        _oauth_post(server, "/auth/revoke", {"token": token})
    except (SwitchyardAuthError, _OAuthAnswer):
        pass  # best effort: the login outcome is already decided


def authenticate(force=False, server=None):
    """
    Log in with the device flow and store the tokens. Without `force`, a login that still works
    is kept as it is; a login approved as someone else than the stored user is refused.
    Returns {server, username, expires_at, replaced, token_file}.
    """
    store = TokenStore()
    chosen = _choose_server(server)
    try:
        stored = store.read()["servers"].get(chosen)
    except TokenStoreError:
        if not force:
            raise
        store.move_aside()
        stored = None

    if stored is not None and not force:
        try:
            me = _whoami(chosen, get_access_token(chosen))
        except LoginRequiredError:
            me = None  # the stored login no longer works: log in again
        if me is not None:
            return {
                "server": chosen,
                "username": me["username"],
                "expires_at": store.read()["servers"][chosen]["expires_at"],
                "replaced": None,
                "token_file": store.path,
                "already": True,
            }

    tokens = _device_login(chosen)
    me = _whoami(chosen, tokens["access_token"])
    if me is None:
        raise LoginFailedError("{} refused the tokens it just issued; try again.".format(chosen))
    now = _now()
    session = {
        "username": me["username"],
        "user_id": str(me.get("id", "")),
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": _iso(now + tokens["expires_in"]),
        "logged_in_at": _iso(now),
        "refreshed_at": None,
        "client_id": CLIENT_ID,
    }
    previous = None
    try:
        with store.locked():
            data = store.read()
            previous = data["servers"].get(chosen)
            if previous is not None and previous["username"] != me["username"] and not force:
                raise IdentityMismatchError(
                    "Identity mismatch: the login was approved as '{}', but this machine is logged in to {} as '{}' "
                    "(tokens in {}). Nothing was changed. To switch to '{}', run '{}'.".format(
                        me["username"],
                        chosen,
                        previous["username"],
                        store.path,
                        me["username"],
                        _command("authenticate --force", chosen),
                    )
                )
            data["servers"][chosen] = session
            data["default_server"] = chosen
            store.write(data)
    except SwitchyardAuthError:
        _revoke(chosen, tokens["refresh_token"])  # leave nothing usable behind
        raise
    # The replaced login's session ends too (a new login supersedes it).
    if previous is not None and previous["refresh_token"] != session["refresh_token"]:
        _revoke(chosen, previous["refresh_token"])
    replaced = previous["username"] if previous is not None and previous["username"] != me["username"] else None
    return {
        "server": chosen,
        "username": me["username"],
        "expires_at": session["expires_at"],
        "replaced": replaced,
        "token_file": store.path,
        "already": False,
    }


# ---- the command line ---------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=SCRIPT,
        description="Log in to a Switchyard server and print access tokens for scripts.",
    )
    parser.add_argument("action", choices=["authenticate", "get_access_token", "get_time_until_token_expiration"])
    parser.add_argument("--units", choices=list(UNITS), default="seconds", help="units of the time until expiration")
    parser.add_argument("-f", "--force", action="store_true", help="authenticate again even when a login works")
    parser.add_argument("--server", help="the server (default: SWITCHYARD_URL, else the last login's server)")
    args = parser.parse_args(argv)
    try:
        if args.force and args.action != "authenticate":
            raise SwitchyardAuthError("--force only goes with authenticate.")
        if args.action == "authenticate":
            result = authenticate(force=args.force, server=args.server)
            if result["already"]:
                print("Already logged in to {} as {}.".format(result["server"], result["username"]))
                _say("To log in again, or as someone else: {}".format(_command("authenticate --force", result["server"])))
            else:
                replaced = " (replacing the login of {})".format(result["replaced"]) if result["replaced"] else ""
                print("Logged in to {} as {}{}.".format(result["server"], result["username"], replaced))
                hours = round((_parse_iso(result["expires_at"]) - _now()) / 3600)
                _say(
                    "The access token is valid for {} h and refreshes by itself; after 7 days without a login, "
                    "run '{}' again.".format(hours, _command("authenticate", result["server"]))
                )
        elif args.action == "get_access_token":
            print(get_access_token(server=args.server))
        else:
            print(get_time_until_token_expiration(units=args.units, server=args.server))
    except SwitchyardAuthError as error:
        _say("{}: {}".format(SCRIPT, error))
        return error.exit_code
    except KeyboardInterrupt:
        _say("{}: interrupted".format(SCRIPT))
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
