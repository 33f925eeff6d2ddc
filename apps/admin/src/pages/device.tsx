import { useMutation, useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Notice, PageHeader } from "../components/ui";
import { formatTime } from "../format";
import { navigate, useLocation } from "../router";
import { errorMessage, statusOf, useTRPC } from "../trpc";

/** Approve or deny a device login (`sy login`) as the signed-in user: no password to type again. */
export function DevicePage() {
  const trpc = useTRPC();
  const { search } = useLocation();
  const initial = search.get("user_code") ?? "";
  const [typed, setTyped] = useState(initial);
  const [code, setCode] = useState(initial);
  const [decided, setDecided] = useState<boolean | null>(null);
  const pending = useQuery({
    ...trpc.device.lookup.queryOptions({ userCode: code }),
    enabled: code.trim().length >= 4 && decided === null,
    retry: false,
  });
  const decide = useMutation(trpc.device.decide.mutationOptions({ onSuccess: (r) => setDecided(r.approved) }));
  const lookUp = (event: FormEvent) => {
    event.preventDefault();
    setDecided(null);
    setCode(typed.trim().toUpperCase());
    navigate(`/device?user_code=${encodeURIComponent(typed.trim().toUpperCase())}`, { replace: true });
  };
  return (
    <>
      <PageHeader title="Approve a device" />
      <p className="muted">
        Approve the code that <code>sy login</code> (or another tool) shows, to let it act as you. Only approve a code
        you requested yourself.
      </p>
      {decided !== null ? (
        <Notice kind={decided ? "ok" : "info"}>
          {decided
            ? "Approved. Return to your terminal: it finishes signing in by itself."
            : "Denied. The device was not given access."}
        </Notice>
      ) : (
        <form className="card form-grid narrow" onSubmit={lookUp} aria-label="Device code">
          <label>
            Code
            <input
              className="code-input"
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
              placeholder="ABCD-EFGH"
              autoComplete="off"
              required
            />
          </label>
          <div className="form-actions">
            <button type="submit" className="button">
              Look up
            </button>
          </div>
        </form>
      )}
      {decided === null && code && pending.isPending && pending.fetchStatus !== "idle" && (
        <p className="muted">Looking up {code}…</p>
      )}
      {decided === null && pending.isError && (
        <Notice kind="error">
          {statusOf(pending.error) === 404
            ? "That code is unknown, expired or already used. Run 'sy login' again for a new one."
            : errorMessage(pending.error)}
        </Notice>
      )}
      {decided === null && pending.data && (
        <div className="card device-request" data-testid="device-request">
          <h2>
            <code>{pending.data.userCode}</code>
          </h2>
          <p>
            Requested by <b>{pending.data.clientId}</b> at {formatTime(pending.data.requestedAt)}; the code expires at{" "}
            {formatTime(pending.data.expiresAt)}.
          </p>
          {decide.isError && <Notice kind="error">{errorMessage(decide.error)}</Notice>}
          <div className="actions">
            <button
              type="button"
              className="button button-primary"
              disabled={decide.isPending}
              onClick={() => decide.mutate({ userCode: pending.data.userCode, approve: true })}
            >
              Approve
            </button>
            <button
              type="button"
              className="button"
              disabled={decide.isPending}
              onClick={() => decide.mutate({ userCode: pending.data.userCode, approve: false })}
            >
              Deny
            </button>
          </div>
        </div>
      )}
    </>
  );
}
