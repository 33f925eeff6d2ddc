import type { AppRouter } from "@switchyard/api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { type FormEvent, useState } from "react";
import { ConfirmButton, Notice, PageHeader, QueryView } from "../components/ui";
import { ago } from "../format";
import { errorMessage, useTRPC } from "../trpc";

type User = inferRouterOutputs<AppRouter>["users"]["list"][number];

const splitGroups = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((g) => g.trim())
    .filter(Boolean);

function CreateUser({ onCreated }: { onCreated: (text: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<"user" | "admin">("user");
  const [groups, setGroups] = useState("");
  const [created, setCreated] = useState<{ username: string; password: string | null } | null>(null);
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: (result) => {
        setCreated({ username: result.user.username, password: result.generatedPassword });
        onCreated(`Created ${result.user.username}.`);
        setUsername("");
        setPassword("");
        setGroups("");
        return queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setCreated(null);
    create.mutate({
      username: username.trim(),
      ...(password ? { password } : {}),
      role,
      groups: splitGroups(groups),
    });
  };
  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Create a user">
      <h2>Create a user</h2>
      <label>
        Username
        <input value={username} onChange={(e) => setUsername(e.target.value)} required autoComplete="off" />
      </label>
      <label>
        Password <span className="muted small">(empty: generate one)</span>
        <input
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="new-password"
        />
      </label>
      <label>
        Role
        <select value={role} onChange={(e) => setRole(e.target.value as "user" | "admin")}>
          <option value="user">user</option>
          <option value="admin">admin</option>
        </select>
      </label>
      <label>
        Groups <span className="muted small">(comma separated)</span>
        <input value={groups} onChange={(e) => setGroups(e.target.value)} placeholder="physics, auroragpt" />
      </label>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          Create user
        </button>
      </div>
      {create.isError && <Notice kind="error">{errorMessage(create.error)}</Notice>}
      {created?.password && (
        <div className="secret" data-testid="generated-password">
          <p>
            Password for <b>{created.username}</b>, shown only now. Pass it on safely:
          </p>
          <code>{created.password}</code>
        </div>
      )}
    </form>
  );
}

function UserRow({ user, onMessage }: { user: User; onMessage: (text: string, ok: boolean) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [groups, setGroups] = useState(user.groups.join(", "));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const setRole = useMutation(
    trpc.users.setRole.mutationOptions({
      onSuccess: (u) => {
        onMessage(`${u.username} is now ${u.role === "admin" ? "an admin" : "a user"}.`, true);
        return refresh();
      },
      onError: (e) => onMessage(errorMessage(e), false),
    }),
  );
  const setGroupsMutation = useMutation(
    trpc.users.setGroups.mutationOptions({
      onSuccess: (u) => {
        setEditing(false);
        onMessage(`Groups of ${u.username}: ${u.groups.join(", ") || "none"}.`, true);
        return refresh();
      },
      onError: (e) => onMessage(errorMessage(e), false),
    }),
  );
  return (
    <tr data-user={user.username}>
      <td data-label="User">
        <b>{user.username}</b>
        {user.issuer && <div className="muted small">via {new URL(user.issuer).host}</div>}
        {user.disabled && <span className="tag">disabled</span>}
      </td>
      <td data-label="Role">
        <span className={`role role-${user.role}`}>{user.role}</span>
      </td>
      <td data-label="Groups">
        {editing ? (
          <form
            className="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              setGroupsMutation.mutate({ username: user.username, groups: splitGroups(groups) });
            }}
          >
            <input
              aria-label={`Groups of ${user.username}`}
              value={groups}
              onChange={(e) => setGroups(e.target.value)}
            />
            <button type="submit" className="button button-primary" disabled={setGroupsMutation.isPending}>
              Save
            </button>
            <button type="button" className="button button-quiet" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <span className="chips">
            {user.groups.length === 0 ? <span className="muted">none</span> : null}
            {user.groups.map((g) => (
              <span key={g} className="tag">
                {g}
              </span>
            ))}
          </span>
        )}
      </td>
      <td data-label="Keys">{user.activeKeys}</td>
      <td data-label="Last sign-in" className="small">
        {ago(user.lastLoginAt)}
      </td>
      <td data-label="Actions">
        <div className="actions">
          {!editing && (
            <button
              type="button"
              className="button"
              onClick={() => {
                setGroups(user.groups.join(", "));
                setEditing(true);
              }}
            >
              Edit groups
            </button>
          )}
          {user.role === "admin" ? (
            <ConfirmButton
              className="button"
              disabled={setRole.isPending}
              confirmLabel="Confirm: remove admin"
              onConfirm={() => setRole.mutate({ username: user.username, role: "user" })}
            >
              Remove admin
            </ConfirmButton>
          ) : (
            <ConfirmButton
              className="button"
              disabled={setRole.isPending}
              confirmLabel="Confirm: make admin"
              onConfirm={() => setRole.mutate({ username: user.username, role: "admin" })}
            >
              Make admin
            </ConfirmButton>
          )}
        </div>
      </td>
    </tr>
  );
}

export function UsersPage() {
  const trpc = useTRPC();
  const users = useQuery(trpc.users.list.queryOptions());
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  return (
    <>
      <PageHeader title="Users" />
      {message && <Notice kind={message.ok ? "ok" : "error"}>{message.text}</Notice>}
      <CreateUser onCreated={(text) => setMessage({ text, ok: true })} />
      <QueryView query={users} what="users" empty="No users yet.">
        {(list) => (
          <table className="table">
            <thead>
              <tr>
                <th>User</th>
                <th>Role</th>
                <th>Groups</th>
                <th>Active keys</th>
                <th>Last sign-in</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((user) => (
                <UserRow key={user.id} user={user} onMessage={(text, ok) => setMessage({ text, ok })} />
              ))}
            </tbody>
          </table>
        )}
      </QueryView>
    </>
  );
}
