// One project: its figures, its burn-down, its members, its budget and window, its per-model
// limits; each form saves through the same mutations and says how it went.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { count } from "../../format";
import { errorMessage, useTRPC } from "../../trpc";
import { Burndown } from "./burndown";
import {
  BudgetFields,
  budgetOf,
  day,
  dayOf,
  dayStart,
  type Message,
  type Project,
  ProjectState,
  remainingOf,
} from "./common";

function useProjectMutations(onMessage: (m: Message) => void) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.projects.list.queryKey() });
  const onError = (e: unknown) => onMessage({ text: errorMessage(e), ok: false });
  return {
    update: useMutation(
      trpc.projects.update.mutationOptions({
        onSuccess: (p) => {
          onMessage({ text: `Saved ${p.name}.`, ok: true });
          return refresh();
        },
        onError,
      }),
    ),
    addMember: useMutation(
      trpc.projects.addMember.mutationOptions({
        onSuccess: (p, input) => {
          onMessage({ text: `Added ${input.username ?? `group ${input.group}`} to ${p.name}.`, ok: true });
          return refresh();
        },
        onError,
      }),
    ),
    removeMember: useMutation(
      trpc.projects.removeMember.mutationOptions({
        onSuccess: (p, input) => {
          onMessage({ text: `Removed ${input.username ?? `group ${input.group}`} from ${p.name}.`, ok: true });
          return refresh();
        },
        onError,
      }),
    ),
  };
}

function Members({ project, onMessage }: { project: Project; onMessage: (m: Message) => void }) {
  const trpc = useTRPC();
  const users = useQuery(trpc.users.list.queryOptions());
  const groups = useQuery(trpc.groups.list.queryOptions());
  const { addMember, removeMember } = useProjectMutations(onMessage);
  const [kind, setKind] = useState<"username" | "group">("username");
  const [name, setName] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    addMember.mutate({ project: project.name, [kind]: name.trim() }, { onSuccess: () => setName("") });
  };
  const row = (label: string, member: { username: string } | { group: string }) => (
    <li key={label}>
      <span>{label}</span>
      <button
        type="button"
        className="button button-quiet"
        aria-label={`Remove ${label} from ${project.name}`}
        disabled={removeMember.isPending}
        onClick={() => removeMember.mutate({ project: project.name, ...member })}
      >
        Remove
      </button>
    </li>
  );
  return (
    <section className="card" data-testid="project-members">
      <h2>Members</h2>
      {project.open && <p className="small">Open: every user may charge this project, members or not.</p>}
      {project.members.users.length + project.members.groups.length === 0 ? (
        <p className="muted">No members yet.</p>
      ) : (
        <ul className="members">
          {project.members.users.map((u) => row(u, { username: u }))}
          {project.members.groups.map((g) => row(`group ${g}`, { group: g }))}
        </ul>
      )}
      <form className="inline-form add-member" onSubmit={submit} aria-label="Add a member">
        <select aria-label="Member kind" value={kind} onChange={(e) => setKind(e.target.value as typeof kind)}>
          <option value="username">user</option>
          <option value="group">group</option>
        </select>
        <input
          className="member-name"
          aria-label="Member name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          list={kind === "username" ? "project-user-names" : "project-group-names"}
          required
        />
        <datalist id="project-user-names">
          {users.data?.map((u) => (
            <option key={u.id} value={u.username} />
          ))}
        </datalist>
        <datalist id="project-group-names">
          {groups.data?.map((g) => (
            <option key={g.name} value={g.name} />
          ))}
        </datalist>
        <button type="submit" className="button button-primary" disabled={addMember.isPending}>
          Add member
        </button>
      </form>
    </section>
  );
}

function Settings({ project, onMessage }: { project: Project; onMessage: (m: Message) => void }) {
  const { update } = useProjectMutations(onMessage);
  const [description, setDescription] = useState(project.description ?? "");
  const [budget, setBudget] = useState(project.tokenBudget === null ? "" : String(project.tokenBudget));
  const [validFrom, setValidFrom] = useState(dayOf(project.validFrom));
  const [validUntil, setValidUntil] = useState(dayOf(project.validUntil));
  const [active, setActive] = useState(project.active);
  const [open, setOpen] = useState(project.open);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    // A day unchanged keeps its exact time (a window set through the API may not start at midnight).
    const keep = (value: string, iso: string | null) => (value === dayOf(iso) ? iso : dayStart(value));
    update.mutate({
      name: project.name,
      description: description.trim() || null,
      tokenBudget: budgetOf(budget),
      validFrom: keep(validFrom, project.validFrom),
      validUntil: keep(validUntil, project.validUntil),
      active,
      open,
    });
  };
  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Project settings">
      <h2>Budget and window</h2>
      <BudgetFields
        budget={[budget, setBudget]}
        validFrom={[validFrom, setValidFrom]}
        validUntil={[validUntil, setValidUntil]}
      />
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <label className="check">
        <input type="checkbox" checked={active} onChange={(e) => setActive(e.target.checked)} /> Active (switched on)
      </label>
      <label className="check">
        <input type="checkbox" checked={open} onChange={(e) => setOpen(e.target.checked)} /> Open to every user
      </label>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={update.isPending}>
          Save
        </button>
      </div>
    </form>
  );
}

function ModelLimits({ project, onMessage }: { project: Project; onMessage: (m: Message) => void }) {
  const trpc = useTRPC();
  const models = useQuery(trpc.models.list.queryOptions({ status: "all" }));
  const { update } = useProjectMutations(onMessage);
  const [rows, setRows] = useState(project.modelLimits.map((l) => ({ model: l.model, limit: String(l.tokenLimit) })));
  const spentOf = (model: string) => project.modelLimits.find((l) => l.model === model)?.spent;
  const set = (i: number, patch: Partial<{ model: string; limit: string }>) =>
    setRows(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    update.mutate({
      name: project.name,
      modelLimits: rows
        .filter((r) => r.model.trim() !== "")
        .map((r) => ({ model: r.model.trim(), tokenLimit: Number(r.limit) })),
    });
  };
  return (
    <form className="card" onSubmit={submit} aria-label="Per-model limits">
      <h2>Per-model limits</h2>
      <p className="muted small">Tokens a single model may use of this project, on top of its budget.</p>
      {rows.length === 0 && <p className="muted">No per-model limits.</p>}
      <datalist id="project-model-ids">
        {models.data?.map((m) => (
          <option key={m.id} value={m.id} />
        ))}
      </datalist>
      <ul className="limits">
        {rows.map((r, i) => {
          const spent = spentOf(r.model);
          return (
            <li key={i}>
              <input
                aria-label={`Model of limit ${i + 1}`}
                value={r.model}
                list="project-model-ids"
                onChange={(e) => set(i, { model: e.target.value })}
                required
              />
              <input
                aria-label={`Token limit of limit ${i + 1}`}
                type="number"
                min={0}
                step={1}
                value={r.limit}
                onChange={(e) => set(i, { limit: e.target.value })}
                required
              />
              {spent !== undefined && <span className="muted small">{count(spent)} spent</span>}
              <button
                type="button"
                className="button button-quiet"
                onClick={() => setRows(rows.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </li>
          );
        })}
      </ul>
      <div className="actions">
        <button type="button" className="button" onClick={() => setRows([...rows, { model: "", limit: "" }])}>
          Add a limit
        </button>
        <button type="submit" className="button button-primary" disabled={update.isPending}>
          Save limits
        </button>
      </div>
    </form>
  );
}

export function ProjectDetail({ project, onMessage }: { project: Project; onMessage: (m: Message) => void }) {
  const left = remainingOf(project);
  return (
    <div data-testid="project-detail" data-project={project.name}>
      <div className="card">
        <h2 className="project-title">
          {project.name} <ProjectState state={project.state} />
        </h2>
        {project.description && <p className="muted">{project.description}</p>}
        <div className="stats">
          <div>
            <span className="stat">{project.tokenBudget === null ? "unlimited" : count(project.tokenBudget)}</span>{" "}
            budget
          </div>
          <div>
            <span className="stat">{count(project.spent)}</span> spent
          </div>
          <div>
            <span className="stat" data-testid="remaining">
              {left === null ? "—" : count(left)}
            </span>{" "}
            remaining
          </div>
          <div>
            <span className="stat">
              {project.validFrom || project.validUntil
                ? `${project.validFrom ? day(project.validFrom) : "open"} – ${project.validUntil ? day(project.validUntil) : "open"}`
                : "always"}
            </span>{" "}
            window
          </div>
        </div>
      </div>
      <Burndown project={project} />
      <div className="two-columns">
        <Members project={project} onMessage={onMessage} />
        {/* Keyed by the saved values, so the forms start from what the server has after a save. */}
        <Settings
          key={`${project.tokenBudget}|${project.validFrom}|${project.validUntil}|${project.active}|${project.open}|${project.description}`}
          project={project}
          onMessage={onMessage}
        />
      </div>
      <ModelLimits key={JSON.stringify(project.modelLimits)} project={project} onMessage={onMessage} />
    </div>
  );
}
