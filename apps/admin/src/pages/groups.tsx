import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Notice, PageHeader, QueryView } from "../components/ui";
import { errorMessage, useTRPC } from "../trpc";

export function GroupsPage() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const groups = useQuery(trpc.groups.list.queryOptions());
  const users = useQuery(trpc.users.list.queryOptions());
  const [message, setMessage] = useState<{ text: string; ok: boolean } | null>(null);
  const [group, setGroup] = useState("");
  const [username, setUsername] = useState("");
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.groups.list.queryKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() }),
    ]);
  const add = useMutation(
    trpc.groups.addMember.mutationOptions({
      onSuccess: (g, input) => {
        setMessage({ text: `Added ${input.username} to ${g.name}.`, ok: true });
        setUsername("");
        return refresh();
      },
      onError: (e) => setMessage({ text: errorMessage(e), ok: false }),
    }),
  );
  const remove = useMutation(
    trpc.groups.removeMember.mutationOptions({
      onSuccess: (g, input) => {
        setMessage({ text: `Removed ${input.username} from ${g.name}.`, ok: true });
        return refresh();
      },
      onError: (e) => setMessage({ text: errorMessage(e), ok: false }),
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate({ group: group.trim(), username: username.trim() });
  };
  return (
    <>
      <PageHeader title="Groups" />
      {message && <Notice kind={message.ok ? "ok" : "error"}>{message.text}</Notice>}
      <form className="card form-grid" onSubmit={submit} aria-label="Add a member">
        <h2>Add a member</h2>
        <label>
          Group <span className="muted small">(new names create the group)</span>
          <input value={group} onChange={(e) => setGroup(e.target.value)} list="group-names" required />
          <datalist id="group-names">
            {groups.data?.map((g) => (
              <option key={g.name} value={g.name} />
            ))}
          </datalist>
        </label>
        <label>
          User
          <input value={username} onChange={(e) => setUsername(e.target.value)} list="user-names" required />
          <datalist id="user-names">
            {users.data?.map((u) => (
              <option key={u.id} value={u.username} />
            ))}
          </datalist>
        </label>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={add.isPending}>
            Add
          </button>
        </div>
      </form>
      <QueryView
        query={groups}
        what="groups"
        empty="No groups yet. Groups limit who may use a model or cluster (allowedGroups in the config)."
      >
        {(list) => (
          <div className="card-grid">
            {list.map((g) => (
              <article key={g.name} className="card" data-group={g.name}>
                <h2>{g.name}</h2>
                {g.description && <p className="muted">{g.description}</p>}
                <p className="small">
                  {g.models.length + g.clusters.length === 0 ? (
                    <span className="muted">No model or cluster is limited to this group.</span>
                  ) : (
                    <>Unlocks: {[...g.clusters.map((c) => `cluster ${c}`), ...g.models].join(", ")}</>
                  )}
                </p>
                {g.members.length === 0 ? (
                  <p className="muted">No members.</p>
                ) : (
                  <ul className="members">
                    {g.members.map((m) => (
                      <li key={m.username}>
                        <span>{m.username}</span>
                        {m.source !== "local" && (
                          <span className="tag" title="Synced from the identity provider's groups claim">
                            {m.source}
                          </span>
                        )}
                        <button
                          type="button"
                          className="button button-quiet"
                          aria-label={`Remove ${m.username} from ${g.name}`}
                          disabled={remove.isPending}
                          onClick={() => remove.mutate({ group: g.name, username: m.username })}
                        >
                          Remove
                        </button>
                      </li>
                    ))}
                  </ul>
                )}
              </article>
            ))}
          </div>
        )}
      </QueryView>
    </>
  );
}
