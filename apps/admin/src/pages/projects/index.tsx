// The Projects page (admins): the list and the create form, or one project (`?project=NAME`).
// Loaded lazily by app.tsx, with the charts library its burn-down draws.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Notice, PageHeader, QueryView } from "../../components/ui";
import { navigate, useLocation } from "../../router";
import { useTRPC } from "../../trpc";
import type { Message } from "./common";
import { ProjectDetail } from "./detail";
import { CreateProject, ProjectTable } from "./list";

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
