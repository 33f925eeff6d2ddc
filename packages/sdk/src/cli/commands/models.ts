import {
  CAPABILITY_MARKS,
  type Job,
  type JobsView,
  MODEL_STATUS_LABELS,
  MODEL_STATUSES,
  type ModelObject,
  type ModelStatusFilter,
} from "@switchyard/core";
import { type Command, Option } from "commander";
import { sleep } from "../../http";
import type { CliContext } from "../context";
import { NUMBERS } from "../numbers";
import { type Colors, formatEta, formatTime, formatTokens } from "../output";
import type { Run } from "../program";

export function registerModels(program: Command, run: Run): void {
  program
    .command("models")
    .description("every model you may use, with its status (Live, Starting, Queued, Offline), queue position and ETA")
    .addOption(
      new Option("--status <status>", "only models with this status")
        .choices(["live", "starting", "queued", "offline", "all"])
        .default("all"),
    )
    .option("--watch", "keep the list up to date until Ctrl-C")
    .option("--interval <seconds>", "seconds between refreshes with --watch", NUMBERS.seconds, 2)
    .action(run(models));

  program
    .command("endpoints")
    .description("clusters, their frameworks, models and endpoint paths")
    .action(run(endpoints));

  program
    .command("jobs")
    .description("what runs, waits and failed on a cluster (every cluster when none is named), and its nodes")
    .argument("[cluster]", "a cluster name, e.g. sophia")
    .action(run(jobs));
}

/**
 * `Live`, `Starting (~12 s)`, `Queued #2 (~5 min)`, `Queued #1 (ETA unknown)`, `Offline`. A queued
 * model never shows an ETA under a second (it has yet to load): `Queued #1` alone.
 */
function statusText(model: ModelObject): string {
  if (model.status === "queued") {
    const position = model.queue_position ? ` #${model.queue_position}` : "";
    if (model.eta_seconds === null) return `Queued${position} (ETA unknown)`;
    return model.eta_seconds < 1 ? `Queued${position}` : `Queued${position} (${formatEta(model.eta_seconds)})`;
  }
  if (model.status === "starting")
    return `Starting${model.eta_seconds !== null ? ` (${formatEta(model.eta_seconds)})` : ""}`;
  return MODEL_STATUS_LABELS[model.status];
}

function statusColor(c: Colors, status: string, text: string): string {
  if (status === "live") return c.green(text);
  if (status === "starting") return c.yellow(text);
  if (status === "queued") return c.cyan(text);
  return c.dim(text);
}

/** `chat, tools, batch` on a terminal with the reference service's B/T/R marks kept recognisable. */
function capabilitiesText(model: ModelObject): string {
  return model.capabilities.map((cap) => (CAPABILITY_MARKS[cap] ? `${cap}(${CAPABILITY_MARKS[cap]})` : cap)).join(",");
}

/**
 * `2/4`: live replicas of the most the model may have, for a model that may have more than one
 * or has more than one running (a replica being added or drained); empty for the rest, and from
 * a server that does not report replicas.
 */
export function replicasText(model: ModelObject): string {
  const r = (model as Partial<ModelObject>).replicas;
  if (!r || (r.max <= 1 && r.live + r.starting + r.draining <= 1)) return "";
  return `${r.live}/${r.max}`;
}

/** The order people read a model list in: Live, Starting, Queued (by position), Offline; then by name. */
export function sortModels(list: ModelObject[]): ModelObject[] {
  const rank = (m: ModelObject) => MODEL_STATUSES.indexOf(m.status);
  return [...list].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.queue_position ?? Number.MAX_SAFE_INTEGER) - (b.queue_position ?? Number.MAX_SAFE_INTEGER) ||
      a.id.localeCompare(b.id),
  );
}

export function renderModels(ctx: CliContext, models: ModelObject[]): void {
  const list = sortModels(models);
  if (!ctx.out.tty) {
    ctx.out.table(
      [],
      list.map((m) => [
        m.id,
        m.status,
        m.capabilities.join(","),
        m.cluster,
        m.max_model_len === null ? "" : String(m.max_model_len),
        m.queue_position === null ? "" : String(m.queue_position),
        m.eta_seconds === null ? "" : String(Math.ceil(m.eta_seconds)),
        m.status_reason ?? "",
      ]),
    );
    return;
  }
  if (list.length === 0) {
    ctx.out.line("No models with that status.");
    return;
  }
  // One engine for every row is said once, under the table; mixed, the simulator's rows say so.
  const engines = new Set(list.map((m) => m.engine));
  const shared = engines.size === 1 ? list[0]?.engine : undefined;
  const notes = list.map((m) =>
    [
      m.aliases.length ? `alias ${m.aliases.join(", ")}` : "",
      m.status_reason ?? "",
      !shared && m.engine === "simulator" ? "simulator" : "",
    ]
      .filter(Boolean)
      .join("; "),
  );
  const withNotes = notes.some(Boolean);
  // Replicas (live of at most) only when some model may have more than one: most have one. In
  // their own column when the table still fits the terminal, else after a live model's status
  // (`Live 2/4`; the status is never cut).
  const replicas = list.map(replicasText);
  const table = (column: boolean) => {
    const headers = ["MODEL", "STATUS", ...(column ? ["REPLICAS"] : []), "CAPABILITIES", "CLUSTER", "CONTEXT"];
    if (withNotes) headers.push("NOTE");
    const rows = list.map((m, i) => {
      const shown = replicas[i] ?? "";
      return [
        m.id,
        !column && shown && m.status === "live" ? `${statusText(m)} ${shown}` : statusText(m),
        ...(column ? [shown || "-"] : []),
        capabilitiesText(m),
        m.cluster,
        formatTokens(m.max_model_len),
        ...(withNotes ? [notes[i] ?? ""] : []),
      ];
    });
    const at = (header: string) => headers.indexOf(header);
    // Too wide for the terminal: the note and the capabilities give way first, then the name, the cluster.
    const fit = {
      shrink: [withNotes ? [at("NOTE"), at("CAPABILITIES")] : [at("CAPABILITIES")], at("MODEL"), at("CLUSTER")],
    };
    return { headers, rows, fit };
  };
  const wide = table(replicas.some(Boolean));
  const { headers, rows, fit } = ctx.out.fits(wide.headers, wide.rows, wide.fit) ? wide : table(false);
  ctx.out.table(
    headers,
    rows,
    (column, cell, row) => (column === 1 ? statusColor(ctx.out.color, list[row]?.status ?? "", cell) : cell),
    fit,
  );
  if (shared) ctx.out.line(ctx.out.color.dim(`engine: ${shared} (every model listed)`));
}

async function models(
  ctx: CliContext,
  options: { status: ModelStatusFilter; watch?: boolean; interval: number },
): Promise<void> {
  const client = ctx.client();
  if (!options.watch) {
    const list = await client.models.list({ status: options.status });
    if (ctx.json) ctx.out.data({ object: "list", data: list });
    else renderModels(ctx, list);
    return;
  }
  // --watch: redraw on a terminal; elsewhere print a snapshot (one JSON line with --json) when something changed.
  const signal = ctx.signal;
  let last = "";
  while (!signal.aborted) {
    let text: string;
    let list: ModelObject[] | undefined;
    try {
      list = await client.models.list({ status: options.status, signal });
      text = JSON.stringify(
        list.map((m) => [
          m.id,
          m.status,
          m.queue_position,
          m.eta_seconds && Math.ceil(m.eta_seconds / 5),
          replicasText(m),
        ]),
      );
    } catch (error) {
      if (signal.aborted) break;
      text = `error: ${(error as Error).message}`;
    }
    if (ctx.out.tty) {
      ctx.out.write("\u001b[H\u001b[2J");
      ctx.out.line(
        ctx.out.color.dim(
          `sy models --watch, every ${options.interval} s, ${new Date().toLocaleTimeString()} (Ctrl-C to stop)`,
        ),
      );
      ctx.out.line();
      if (list) renderModels(ctx, list);
      else ctx.out.line(ctx.out.color.red(text));
    } else if (text !== last) {
      if (!list) ctx.err.line(`sy: ${text}`);
      else if (ctx.json) ctx.out.line(JSON.stringify({ time: new Date().toISOString(), data: list }));
      else {
        renderModels(ctx, list);
        ctx.out.line();
      }
    }
    last = text;
    await sleep(options.interval * 1000, signal).catch(() => {});
  }
}

async function endpoints(ctx: CliContext): Promise<void> {
  const list = await ctx.client().endpoints();
  if (ctx.json) {
    ctx.out.data(list);
    return;
  }
  const c = ctx.out.color;
  const rows: string[][] = [];
  for (const [name, cluster] of Object.entries(list.clusters)) {
    if (ctx.out.tty) {
      const status = cluster.status === "active" ? c.green(cluster.status) : c.yellow(cluster.status);
      ctx.out.line(
        `${c.bold(name)}  ${status}${cluster.status_reason ? ` (${cluster.status_reason})` : ""}  ${c.dim(cluster.base_url)}`,
      );
    }
    for (const [frameworkName, framework] of Object.entries(cluster.frameworks)) {
      if (ctx.out.tty) {
        ctx.out.line(
          `  ${frameworkName} (${framework.models.length} model${framework.models.length === 1 ? "" : "s"})`,
        );
        const width = Math.max(...Object.keys(framework.endpoint_urls).map((k) => k.length));
        for (const [kind, path] of Object.entries(framework.endpoint_urls))
          ctx.out.line(`    ${kind.padEnd(width)}  ${path}`);
      } else {
        for (const [kind, path] of Object.entries(framework.endpoint_urls))
          rows.push([name, frameworkName, kind, path]);
      }
    }
  }
  if (!ctx.out.tty) ctx.out.table([], rows);
}

function jobDetail(job: Job): string {
  if (job.state === "queued") {
    const eta = job.eta_seconds === undefined || job.eta_seconds === null ? "ETA unknown" : formatEta(job.eta_seconds);
    return `#${job.queue_position ?? "?"} in queue, ${eta}${job.reason ? `; ${job.reason}` : ""}`;
  }
  if (job.state === "starting" && job.eta_seconds !== undefined && job.eta_seconds !== null) {
    return `${formatEta(job.eta_seconds)} to go`;
  }
  if (job.state === "live") return job.in_flight ? `${job.in_flight} in flight` : "";
  return job.reason ?? "";
}

/** `2/4`: which replica of how many its model may have, for a model that may have more than one. */
function jobReplicaText(job: Job): string {
  const { replica, max_replicas: max } = job as Partial<Job>;
  if (replica === undefined) return "";
  return max === null || max === undefined ? String(replica) : `${replica}/${max}`;
}

export function renderJobs(ctx: CliContext, view: JobsView): void {
  const all = [...view.running, ...view.queued, ...view.others];
  if (!ctx.out.tty) {
    ctx.out.table(
      [],
      all.map((j) => [
        view.cluster,
        j.job_id,
        j.models.join(","),
        j.state,
        j.node ?? "",
        String(j.gpus),
        j.start_time,
        jobDetail(j),
      ]),
    );
    return;
  }
  const c = ctx.out.color;
  const free = view.free_nodes.length ? view.free_nodes.join(", ") : "none";
  ctx.out.line(
    `${c.bold(view.cluster)}  ${view.status}${view.status_reason ? ` (${view.status_reason})` : ""}  free nodes: ${free}`,
  );
  if (all.length === 0) ctx.out.line("  no jobs");
  else {
    // Which replica each job is, only when some model may have more than one.
    const withReplicas = all.some((j) => (j.max_replicas ?? 1) > 1 || (j.replica ?? 1) > 1);
    ctx.out.table(
      ["JOB", "MODEL", ...(withReplicas ? ["REPLICA"] : []), "STATE", "NODE", "GPUS", "STARTED", "DETAIL"],
      all.map((j) => [
        j.job_id,
        j.models.join(","),
        ...(withReplicas ? [jobReplicaText(j)] : []),
        j.state,
        j.node ?? "-",
        String(j.gpus),
        formatTime(j.start_time),
        jobDetail(j),
      ]),
      (column, cell, row) =>
        column === (withReplicas ? 3 : 2) ? statusColor(c, all[row]?.model_status ?? "", cell) : cell,
      // Too wide for the terminal: the detail gives way first, then the models; the state is never cut.
      { shrink: [withReplicas ? 7 : 6, 1] },
    );
  }
  ctx.out.para(c.dim(`nodes: ${view.nodes.map((n) => `${n.name} ${n.gpus_free}/${n.gpus} GPUs free`).join(", ")}`));
}

async function jobs(ctx: CliContext, _options: unknown, cluster: string | undefined): Promise<void> {
  const client = ctx.client();
  if (cluster) {
    const view = await client.jobs(cluster);
    if (ctx.json) ctx.out.data(view);
    else renderJobs(ctx, view);
    return;
  }
  const names = Object.keys((await client.endpoints()).clusters);
  const views = await Promise.all(names.map((name) => client.jobs(name)));
  if (ctx.json) {
    ctx.out.data({ clusters: Object.fromEntries(views.map((v) => [v.cluster, v])) });
    return;
  }
  views.forEach((view, i) => {
    if (i > 0 && ctx.out.tty) ctx.out.line();
    renderJobs(ctx, view);
  });
}
