import type { AppRouter } from "@switchyard/api";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { type FormEvent, useMemo, useState } from "react";
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Notice, PageHeader, QueryView } from "../components/ui";
import { count, formatTime } from "../format";
import { Link, navigate, useLocation } from "../router";
import { errorMessage, useTRPC } from "../trpc";

type Project = inferRouterOutputs<AppRouter>["projects"]["list"][number];
type Timeseries = inferRouterOutputs<AppRouter>["usage"]["timeseries"];
type Message = { text: string; ok: boolean } | null;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const STATE_LABELS: Record<Project["state"], string> = {
  active: "Active",
  inactive: "Off",
  not_started: "Not started",
  ended: "Ended",
  exhausted: "Exhausted",
};

const STATE_TITLES: Record<Project["state"], string> = {
  active: "Batches can be charged to it now",
  inactive: "Switched off by an administrator",
  not_started: "Its window has not begun",
  ended: "Its window is over",
  exhausted: "Its whole token budget is spent",
};

function ProjectState({ state }: { state: Project["state"] }) {
  return (
    <span className={`badge badge-project-${state}`} data-state={state} title={STATE_TITLES[state]}>
      {STATE_LABELS[state]}
    </span>
  );
}

const remainingOf = (p: Project) => (p.tokenBudget === null ? null : Math.max(0, p.tokenBudget - p.spent));

/** The budget left as a bar and a number; an unlimited budget has no bar. */
function Remaining({ project }: { project: Project }) {
  const left = remainingOf(project);
  if (left === null || project.tokenBudget === null) return <span className="muted">unlimited</span>;
  const share = project.tokenBudget === 0 ? 0 : left / project.tokenBudget;
  const low = share < 0.1;
  return (
    <div className="budget">
      <span>
        {count(left)} <span className="muted small">({Math.round(share * 100)}%)</span>
      </span>
      <div
        className="progress"
        role="progressbar"
        aria-label={`${project.name} budget remaining`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(share * 100)}
      >
        <span className={low ? "progress-failed" : "progress-ok"} style={{ width: `${share * 100}%` }} />
      </div>
    </div>
  );
}

const splitNames = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((g) => g.trim())
    .filter(Boolean);

/** An `<input type="date">` value as the start of that day in UTC, or null when empty. */
const dayStart = (value: string) => (value ? `${value}T00:00:00.000Z` : null);
/** A timestamp as an `<input type="date">` value (its UTC day). */
const dayOf = (iso: string | null) => (iso ? iso.slice(0, 10) : "");
/** A budget field: empty is unlimited. */
const budgetOf = (value: string) => (value.trim() === "" ? null : Number(value));
const day = (iso: string | null) =>
  iso ? new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" }) : "—";

function CreateProject({ onMessage }: { onMessage: (m: Message) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [budget, setBudget] = useState("");
  const [validFrom, setValidFrom] = useState("");
  const [validUntil, setValidUntil] = useState("");
  const [users, setUsers] = useState("");
  const [groups, setGroups] = useState("");
  const [open, setOpen] = useState(false);
  const create = useMutation(
    trpc.projects.create.mutationOptions({
      onSuccess: (p) => {
        onMessage({ text: `Created project ${p.name}.`, ok: true });
        setName("");
        setDescription("");
        setBudget("");
        setValidFrom("");
        setValidUntil("");
        setUsers("");
        setGroups("");
        setOpen(false);
        return queryClient.invalidateQueries({ queryKey: trpc.projects.list.queryKey() });
      },
    }),
  );
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate({
      name: name.trim(),
      ...(description.trim() ? { description: description.trim() } : {}),
      tokenBudget: budgetOf(budget),
      validFrom: dayStart(validFrom),
      validUntil: dayStart(validUntil),
      open,
      users: splitNames(users),
      groups: splitNames(groups),
    });
  };
  return (
    <form className="card form-grid" onSubmit={submit} aria-label="Create a project">
      <h2>Create a project</h2>
      <label>
        Name
        <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="off" />
      </label>
      <label>
        Description
        <input value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
      <BudgetFields
        budget={[budget, setBudget]}
        validFrom={[validFrom, setValidFrom]}
        validUntil={[validUntil, setValidUntil]}
      />
      <label>
        Users <span className="muted small">(comma separated)</span>
        <input value={users} onChange={(e) => setUsers(e.target.value)} placeholder="ada, grace" />
      </label>
      <label>
        Groups <span className="muted small">(comma separated)</span>
        <input value={groups} onChange={(e) => setGroups(e.target.value)} placeholder="physics" />
      </label>
      <label className="check">
        <input type="checkbox" checked={open} onChange={(e) => setOpen(e.target.checked)} /> Open to every user
      </label>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          Create project
        </button>
      </div>
      {create.isError && <Notice kind="error">{errorMessage(create.error)}</Notice>}
    </form>
  );
}

function ProjectTable({ projects }: { projects: Project[] }) {
  return (
    <table className="table">
      <thead>
        <tr>
          <th>Project</th>
          <th>State</th>
          <th>Budget</th>
          <th>Spent</th>
          <th>Remaining</th>
          <th>Valid until</th>
          <th>Members</th>
        </tr>
      </thead>
      <tbody>
        {projects.map((p) => (
          <tr key={p.id} data-project={p.name}>
            <td data-label="Project">
              <Link to={`/projects?project=${encodeURIComponent(p.name)}`}>
                <b>{p.name}</b>
              </Link>
              {p.description && <div className="muted small">{p.description}</div>}
            </td>
            <td data-label="State">
              <ProjectState state={p.state} />
            </td>
            <td data-label="Budget" data-testid="budget">
              {p.tokenBudget === null ? "unlimited" : count(p.tokenBudget)}
            </td>
            <td data-label="Spent">{count(p.spent)}</td>
            <td data-label="Remaining">
              <Remaining project={p} />
            </td>
            <td data-label="Valid until">{p.validUntil ? day(p.validUntil) : <span className="muted">open</span>}</td>
            <td data-label="Members" data-testid="members">
              {p.open ? (
                <span title="Every user is a member">everyone</span>
              ) : (
                p.members.users.length + p.members.groups.length
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * The window a burn-down spans: from the project's creation (nothing can be charged before)
 * to the end of the current hour, in hours up to a week and in days beyond (at most 400).
 */
function burndownWindow(createdAt: string): { from: string; to: string; bucket: "hour" | "day" } {
  const to = new Date();
  to.setUTCMinutes(60, 0, 0);
  const created = Date.parse(createdAt);
  if (to.getTime() - created <= 7 * DAY) {
    const from = Math.min(Math.floor(created / HOUR) * HOUR, to.getTime() - DAY);
    return { from: new Date(from).toISOString(), to: to.toISOString(), bucket: "hour" };
  }
  const end = Math.ceil(to.getTime() / DAY) * DAY;
  const from = Math.max(Math.floor(created / DAY) * DAY, end - 400 * DAY);
  return { from: new Date(from).toISOString(), to: new Date(end).toISOString(), bucket: "day" };
}

/**
 * What was left (or, unlimited, spent in all) at the end of each bucket. The spend before the
 * window (a project older than 400 days) is what the summary counts beyond the window's total.
 */
function burndownRows(project: Project, series: Timeseries) {
  const before = Math.max(0, project.spent - series.totals.totalTokens);
  const perBucket = series.buckets.map((_, i) =>
    series.series.reduce((sum, s) => sum + (s.points[i]?.totalTokens ?? 0), 0),
  );
  let spent = before;
  return series.buckets.map((at, i) => {
    spent += perBucket[i] ?? 0;
    return {
      at,
      used: perBucket[i] ?? 0,
      value: project.tokenBudget === null ? spent : Math.max(0, project.tokenBudget - spent),
    };
  });
}

function Burndown({ project }: { project: Project }) {
  const trpc = useTRPC();
  const span = useMemo(() => burndownWindow(project.createdAt), [project.createdAt]);
  const series = useQuery(
    trpc.usage.timeseries.queryOptions({ ...span, groupBy: "none", limit: 1, project: project.name }),
  );
  const unlimited = project.tokenBudget === null;
  const tick = (iso: string) =>
    span.bucket === "hour"
      ? new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
      : new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short" });
  return (
    <section className="card" data-testid="burndown">
      <h2>{unlimited ? "Spent over time" : "Burn-down"}</h2>
      <p className="muted small">
        {unlimited
          ? "Tokens charged to the project, in all, at the end of each "
          : "Tokens of the budget left at the end of each "}
        {span.bucket} since {formatTime(span.from)}.
      </p>
      <QueryView query={series} what="the project's usage">
        {(data) => (
          <div className="chart">
            <ResponsiveContainer width="100%" height={260}>
              <LineChart data={burndownRows(project, data)} margin={{ right: 12 }}>
                <CartesianGrid strokeDasharray="3 3" vertical={false} />
                <XAxis dataKey="at" tickFormatter={tick} minTickGap={24} fontSize={12} />
                <YAxis
                  tickFormatter={(v: number) => count(v)}
                  width={52}
                  fontSize={12}
                  domain={[0, unlimited ? "auto" : (project.tokenBudget ?? "auto")]}
                />
                <Tooltip
                  formatter={(v: unknown) => count(Number(v))}
                  labelFormatter={(label: unknown) => new Date(String(label)).toLocaleString()}
                />
                {!unlimited && <ReferenceLine y={0} stroke="var(--danger)" />}
                <Line
                  type="stepAfter"
                  dataKey="value"
                  name={unlimited ? "spent" : "remaining"}
                  stroke="#1f6feb"
                  strokeWidth={2}
                  dot={false}
                  isAnimationActive={false}
                />
              </LineChart>
            </ResponsiveContainer>
          </div>
        )}
      </QueryView>
    </section>
  );
}

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

function ProjectDetail({ project, onMessage }: { project: Project; onMessage: (m: Message) => void }) {
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

export function ProjectsPage() {
  const trpc = useTRPC();
  const projects = useQuery(trpc.projects.list.queryOptions());
  const { search } = useLocation();
  const selected = search.get("project");
  const [message, setMessage] = useState<Message>(null);
  return (
    <>
      <PageHeader title={selected ? `Project ${selected}` : "Projects"}>
        {selected && (
          <button type="button" className="button" onClick={() => navigate("/projects")}>
            All projects
          </button>
        )}
      </PageHeader>
      {message && <Notice kind={message.ok ? "ok" : "error"}>{message.text}</Notice>}
      <QueryView query={projects} what="projects" empty="No projects yet: batches cannot run until one exists.">
        {(list) => {
          if (selected) {
            const project = list.find((p) => p.name === selected);
            return project ? (
              <ProjectDetail project={project} onMessage={setMessage} />
            ) : (
              <Notice kind="error">There is no project {selected}.</Notice>
            );
          }
          return <ProjectTable projects={list} />;
        }}
      </QueryView>
      {!selected && <CreateProject onMessage={setMessage} />}
      {!selected && (
        <p className="muted small">
          A batch runs only on an active project its owner belongs to, and its usage is charged to that project's
          budget.
        </p>
      )}
    </>
  );
}

type Field = [string, (value: string) => void];

/** The budget and validity window inputs, the same in the create form and a project's settings. */
function BudgetFields({ budget, validFrom, validUntil }: { budget: Field; validFrom: Field; validUntil: Field }) {
  return (
    <>
      <label>
        Token budget <span className="muted small">(empty: unlimited)</span>
        <input type="number" min={0} step={1} value={budget[0]} onChange={(e) => budget[1](e.target.value)} />
      </label>
      <label>
        Valid from <span className="muted small">(UTC day)</span>
        <input type="date" value={validFrom[0]} onChange={(e) => validFrom[1](e.target.value)} />
      </label>
      <label>
        Valid until <span className="muted small">(UTC day)</span>
        <input type="date" value={validUntil[0]} onChange={(e) => validUntil[1](e.target.value)} />
      </label>
    </>
  );
}
