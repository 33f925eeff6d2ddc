// `sy batch list` and `sy batch status`: your batches, and one batch in full.
import type { CliContext } from "../../context";
import { formatTime } from "../../output";
import { describeErrors, done } from "./describe";

export async function list(ctx: CliContext, options: { limit: number }): Promise<void> {
  const page = await ctx.client().batches.list({ limit: options.limit });
  if (ctx.json) {
    ctx.out.data(page);
    return;
  }
  if (page.data.length === 0 && ctx.out.tty) {
    ctx.out.line("No batches yet: sy batch submit FILE --model MODEL");
    return;
  }
  const c = ctx.out.color;
  // The widest layout that fits the terminal: the creation time loses its year, then goes (the
  // list is newest first); the model is cut with an ellipsis; the id and status never are.
  const layout = (created: "full" | "short" | "none") => {
    const headers = ["ID", "STATUS", "MODEL", "DONE", "FAILED", ...(created === "none" ? [] : ["CREATED"])];
    const rows = page.data.map((b) => {
      const time = formatTime(new Date(b.created_at * 1000).toISOString());
      return [
        b.id,
        b.status,
        b.model || "-",
        `${done(b)}/${b.request_counts.total}`,
        String(b.request_counts.failed),
        ...(created === "none" ? [] : [created === "full" ? time : time.slice(5)]),
      ];
    });
    return { headers, rows, fit: { shrink: [2] } };
  };
  const layouts = [layout("full"), layout("short"), layout("none")];
  const { headers, rows, fit } =
    layouts.find((l) => ctx.out.fits(l.headers, l.rows, l.fit)) ?? (layouts.at(-1) as (typeof layouts)[number]);
  ctx.out.table(
    headers,
    rows,
    (column, cell) => {
      if (column !== 1) return cell;
      if (cell === "completed") return c.green(cell);
      if (cell === "failed" || cell === "expired") return c.red(cell);
      if (cell === "cancelled") return c.dim(cell);
      return c.yellow(cell);
    },
    fit,
  );
  if (page.has_more && ctx.out.tty) ctx.out.line(c.dim(`(more: --limit ${Math.min(100, options.limit * 2)})`));
}

export async function status(ctx: CliContext, _options: unknown, id: string): Promise<void> {
  const client = ctx.client();
  const batch = await client.batches.retrieve(id);
  if (ctx.json) {
    ctx.out.data(batch);
    return;
  }
  const c = batch.request_counts;
  const at = (seconds: number | null) => (seconds === null ? "-" : formatTime(new Date(seconds * 1000).toISOString()));
  const rows: [string, string][] = [
    ["status", batch.status],
    ["model", batch.model || "-"],
    ["endpoint", batch.endpoint],
    ["requests", c.total ? `${done(batch)} of ${c.total} done (${c.completed} answered, ${c.failed} failed)` : "-"],
    ["created", at(batch.created_at)],
  ];
  const ended = batch.completed_at ?? batch.failed_at ?? batch.expired_at ?? batch.cancelled_at;
  if (ended) rows.push(["ended", at(ended)]);
  else if (batch.expires_at) rows.push(["expires", at(batch.expires_at)]);
  if (batch.input_file_id) {
    rows.push(["input", batch.input_file_id]);
    rows.push(["output", batch.output_file_id ?? "-"]);
    rows.push(["errors", batch.error_file_id ?? "-"]);
  } else {
    // A batch of the reference API: its files are on the server's shared storage.
    const detail = await client.batches.reference.retrieve(id);
    rows.push(["input", detail.input_file]);
    if (detail.results_file) rows.push(["results", detail.results_file]);
    if (detail.errors_file) rows.push(["errors", detail.errors_file]);
  }
  ctx.out.line(`${batch.id}`);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [key, value] of rows) ctx.out.para(`  ${key.padEnd(width)}  ${value}`);
  const errors = batch.errors?.data ?? [];
  if (errors.length) {
    ctx.out.line(`  problems:`);
    ctx.out.para(describeErrors(errors).replace(/^ {2}/gm, "    "));
  }
}
