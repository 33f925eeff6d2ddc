// The projects as a table (state, budget, spend, what is left) and the form that creates one.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { Notice } from "../../components/ui";
import { count } from "../../format";
import { Link } from "../../router";
import { errorMessage, useTRPC } from "../../trpc";
import { BudgetFields, budgetOf, day, dayStart, type Message, type Project, ProjectState, remainingOf } from "./common";

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

export function CreateProject({ onMessage }: { onMessage: (m: Message) => void }) {
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

export function ProjectTable({ projects }: { projects: Project[] }) {
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
