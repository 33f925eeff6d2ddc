import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Notice } from "../components/ui";
import { startOidcSignIn } from "../oidc";
import { useLocation } from "../router";
import { SignInError, session } from "../session";
import { errorMessage, useTRPC } from "../trpc";

export function SignInPage() {
  const trpc = useTRPC();
  const options = useQuery(trpc.session.signInOptions.queryOptions());
  const { path, search } = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const returnTo = `${path}${search.size > 0 ? `?${search}` : ""}`;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await session.signInWithPassword(username, password);
    } catch (e) {
      setError(e instanceof SignInError ? e.message : "Cannot reach the Switchyard server. Is it running?");
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form className="card sign-in-card" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <img src="/admin/favicon.svg" alt="" width={28} height={28} /> Sign in to Switchyard
        </h1>
        {session.endedBecause && <Notice kind="info">{session.endedBecause}</Notice>}
        {path === "/device" && <Notice kind="info">Sign in to approve the code your terminal shows.</Notice>}
        {error && <Notice kind="error">{error}</Notice>}
        <label htmlFor="username">Username</label>
        <input
          id="username"
          name="username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
        />
        <label htmlFor="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          required
        />
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        {options.isError && <Notice kind="error">{errorMessage(options.error)}</Notice>}
        {options.data && options.data.oidc.length > 0 && (
          <div className="sso">
            <p className="muted">or</p>
            {options.data.oidc.map((provider) => (
              <button
                key={provider.issuer}
                type="button"
                className="button"
                onClick={() => {
                  setError(null);
                  startOidcSignIn(provider, returnTo).catch((e: unknown) => setError(errorMessage(e)));
                }}
              >
                Sign in with {provider.displayName}
              </button>
            ))}
          </div>
        )}
      </form>
    </main>
  );
}
