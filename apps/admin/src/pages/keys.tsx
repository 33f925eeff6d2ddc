import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ConfirmButton, Notice, PageHeader, QueryView } from "../components/ui";
import { ago, formatTime } from "../format";
import { errorMessage, useTRPC } from "../trpc";

const SCOPES = [
  { value: "inference", label: "inference (models, chat, embeddings)" },
  { value: "batch", label: "batch (files, batches)" },
  { value: "keys", label: "keys (manage own keys)" },
  { value: "admin", label: "admin (the control plane)" },
] as const;
type Scope = (typeof SCOPES)[number]["value"];

export function KeysPage({ admin }: { admin: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [all, setAll] = useState(false);
  const [showRevoked, setShowRevoked] = useState(false);
  const keys = useQuery(trpc.keys.list.queryOptions({ all, includeRevoked: showRevoked }));
  const defaults = useQuery(trpc.keys.defaults.queryOptions());
  const defaultDays = defaults.data?.expiryDays;
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["inference", "batch"]);
  const [created, setCreated] = useState<{ key: string; name: string | null } | null>(null);
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  const [copied, setCopied] = useState(false);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.keys.list.queryKey() });
  const create = useMutation(
    trpc.keys.create.mutationOptions({
      onSuccess: (result) => {
        setCreated({ key: result.key, name: result.apiKey.name });
        setMessage(null);
        setName("");
        setDays("");
        setCopied(false);
        return refresh();
      },
    }),
  );
  const revoke = useMutation(
    trpc.keys.revoke.mutationOptions({
      onSuccess: (key) => {
        setMessage({ text: `Revoked ${key.name ?? key.id}; it stops working everywhere at once.`, ok: true });
        return refresh();
      },
      onError: (e) => setMessage({ text: errorMessage(e), ok: false }),
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({
      ...(name.trim() ? { name: name.trim() } : {}),
      ...(days !== "" ? { expiresDays: Number(days) } : {}),
      scopes,
    });
  };
  const choices = SCOPES.filter((s) => admin || s.value !== "admin");
  return (
    <>
      <PageHeader title="API keys">
        {admin && (
          <label className="toggle">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> Everyone's keys
          </label>
        )}
        <label className="toggle">
          <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} /> Show
          revoked
        </label>
      </PageHeader>
      <p className="muted">
        Keys are for services and scripts: send one as <code>Authorization: Bearer sy_…</code>. A key is shown once,
        when it is created; only its hash is kept.
      </p>
      <form className="card form-grid" onSubmit={submit} aria-label="Create a key">
        <h2>Create a key</h2>
        <label>
          Name
          <input
            value={name}
            onChange={(e) => setName(e.target.value)}
            placeholder="nightly pipeline"
            maxLength={100}
          />
        </label>
        <label>
          Expires after (days){" "}
          <span className="muted small" data-testid="expiry-default">
            {defaultDays === undefined
              ? ""
              : defaultDays > 0
                ? `(empty: ${defaultDays} days; 0: never)`
                : "(empty: never)"}
          </span>
          <input
            type="number"
            min={0}
            max={3650}
            value={days}
            placeholder={defaultDays ? String(defaultDays) : "never"}
            onChange={(e) => setDays(e.target.value)}
          />
        </label>
        <fieldset>
          <legend>Scopes</legend>
          {choices.map((s) => (
            <label key={s.value} className="check">
              <input
                type="checkbox"
                checked={scopes.includes(s.value)}
                onChange={(e) =>
                  setScopes(e.target.checked ? [...scopes, s.value] : scopes.filter((x) => x !== s.value))
                }
              />
              {s.label}
            </label>
          ))}
        </fieldset>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={create.isPending || scopes.length === 0}>
            Create key
          </button>
        </div>
        {create.isError && <Notice kind="error">{errorMessage(create.error)}</Notice>}
      </form>
      {created && (
        <div className="secret" data-testid="new-key">
          <p>Your new key{created.name ? ` "${created.name}"` : ""}. Copy it now: it will not be shown again.</p>
          <code>{created.key}</code>
          <div className="actions">
            <button
              type="button"
              className="button"
              onClick={() =>
                void navigator.clipboard
                  ?.writeText(created.key)
                  .then(() => setCopied(true))
                  .catch(() => undefined)
              }
            >
              {copied ? "Copied" : "Copy"}
            </button>
            <button type="button" className="button button-quiet" onClick={() => setCreated(null)}>
              I have saved it
            </button>
          </div>
        </div>
      )}
      {message && <Notice kind={message.ok ? "ok" : "error"}>{message.text}</Notice>}
      <QueryView query={keys} what="keys" empty="No keys yet.">
        {(list) => (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                {all && <th>User</th>}
                <th>Key</th>
                <th>Scopes</th>
                <th>Created</th>
                <th>Expires</th>
                <th>Last used</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((key) => (
                <tr key={key.id} data-key={key.id} className={key.revokedAt ? "revoked" : undefined}>
                  <td data-label="Name">{key.name ?? <span className="muted">unnamed</span>}</td>
                  {all && <td data-label="User">{key.user}</td>}
                  <td data-label="Key">
                    <code>{key.prefix}…</code>
                  </td>
                  <td data-label="Scopes">{key.scopes.join(", ")}</td>
                  <td data-label="Created" className="small">
                    {formatTime(key.createdAt)}
                  </td>
                  <td data-label="Expires" className="small">
                    {key.expiresAt ? formatTime(key.expiresAt) : "never"}
                  </td>
                  <td data-label="Last used" className="small">
                    {ago(key.lastUsedAt)}
                  </td>
                  <td data-label="Actions">
                    {key.revokedAt ? (
                      <span className="badge badge-offline">Revoked</span>
                    ) : (
                      <ConfirmButton
                        confirmLabel="Confirm revoke"
                        disabled={revoke.isPending}
                        onConfirm={() => revoke.mutate({ id: key.id })}
                      >
                        Revoke
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </>
  );
}
