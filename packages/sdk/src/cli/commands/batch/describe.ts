// What a batch looks like to people: its counts, its problems, why it ended, what to type next.
import type { BatchError, BatchObject } from "@switchyard/core";
import { CliError } from "../../context";
import { plural } from "../../output";

export function done(batch: BatchObject): number {
  return batch.request_counts.completed + batch.request_counts.failed;
}

/** `line 2: Not valid JSON: ... (invalid_json_line)`: one validation problem per line. */
export function describeErrors(errors: BatchError[]): string {
  return errors
    .map((e) => {
      const where = e.line === null ? "file" : `line ${e.line}`;
      const field = e.param ? `, ${e.param}` : "";
      return `  ${where}: ${e.message} (${e.code}${field})`;
    })
    .join("\n");
}

/** The message of a batch that ended without completing: exit 1 with this. */
export function endedBadly(batch: BatchObject): CliError {
  const counts = `${batch.request_counts.completed} answered, ${batch.request_counts.failed} failed, of ${batch.request_counts.total}`;
  const errors = batch.errors?.data ?? [];
  if (batch.status === "failed") {
    const lines = errors.filter((e) => e.line !== null).length;
    const head =
      lines > 0
        ? `Batch ${batch.id} failed: the file was rejected and nothing ran. Problems${errors.length >= 100 ? " (the first 100)" : ""}:`
        : `Batch ${batch.id} failed${errors.length ? ":" : "."}`;
    return new CliError(errors.length ? `${head}\n${describeErrors(errors)}` : head);
  }
  if (batch.status === "expired") {
    return new CliError(
      `Batch ${batch.id} expired before it finished (${counts}); the rest are in its errors file as batch_expired (sy batch results ${batch.id} --errors).`,
    );
  }
  return new CliError(
    `Batch ${batch.id} was cancelled (${counts}); what was answered is kept (sy batch results ${batch.id}).`,
  );
}

export function summary(batch: BatchObject): string {
  const c = batch.request_counts;
  return `Batch ${batch.id} ${batch.status}: ${c.completed} of ${plural(c.total, "request")} answered, ${c.failed} failed.`;
}

/** What to type next for a batch that completed: the command that fetches its answers (and its failures). */
export function fetchHint(batch: BatchObject): string {
  const failed = batch.request_counts.failed
    ? `; the ${plural(batch.request_counts.failed, "failed request")}: sy batch results ${batch.id} --errors`
    : "";
  return `Get the answers: sy batch results ${batch.id} -o answers.jsonl${failed}`;
}
