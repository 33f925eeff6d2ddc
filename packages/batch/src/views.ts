import type { BatchError, BatchObject, ReferenceBatch, ReferenceBatchDetail } from "@switchyard/core";
import { referenceStatus } from "@switchyard/core";
import type { Prisma } from "@switchyard/db";

/**
 * A batch row as each front door shows it: OpenAI's batch object, and the reference service's
 * list entry and detail (its times written as that service writes them).
 */

export type BatchRow = Prisma.BatchGetPayload<object>;

function seconds(date: Date | null): number | null {
  return date ? Math.floor(date.getTime() / 1000) : null;
}

function errorsOf(row: BatchRow): BatchError[] {
  return Array.isArray(row.errors) ? (row.errors as unknown as BatchError[]) : [];
}

export function toBatchObject(row: BatchRow): BatchObject {
  const errors = errorsOf(row);
  const input = Number(row.promptTokens);
  const output = Number(row.completionTokens);
  return {
    id: row.id,
    object: "batch",
    endpoint: row.endpoint,
    model: row.model,
    errors: errors.length > 0 ? { object: "list", data: errors } : null,
    input_file_id: row.inputFileId,
    completion_window: row.completionWindow,
    status: row.status,
    output_file_id: row.outputFileId,
    error_file_id: row.errorFileId,
    created_at: seconds(row.createdAt) as number,
    in_progress_at: seconds(row.inProgressAt),
    expires_at: seconds(row.expiresAt),
    finalizing_at: seconds(row.finalizingAt),
    completed_at: seconds(row.completedAt),
    failed_at: seconds(row.failedAt),
    expired_at: seconds(row.expiredAt),
    cancelling_at: seconds(row.cancellingAt),
    cancelled_at: seconds(row.cancelledAt),
    request_counts: { total: row.totalCount, completed: row.completedCount, failed: row.failedCount },
    usage: { input_tokens: input, output_tokens: output, total_tokens: input + output },
    metadata: (row.metadata as Record<string, string> | null) ?? null,
  };
}

/**
 * A time as the reference service prints it (Python's `str()` of an aware datetime):
 * `2025-02-20 18:39:58.049000+00:00`, the fraction left out when it is zero, as Python does.
 */
export function referenceTime(date: Date): string {
  const iso = date.toISOString(); // 2025-02-20T18:39:58.049Z
  const ms = date.getUTCMilliseconds();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms === 0 ? "" : `.${String(ms * 1000).padStart(6, "0")}`}+00:00`;
}

/** Why a failed batch failed, in one line: its reason, or its first validation problems. */
export function failureReason(row: BatchRow): string {
  const errors = errorsOf(row);
  if (errors.length === 0) return "no reason was recorded.";
  const shown = errors
    .slice(0, 3)
    .map((e) => (e.line == null ? e.message : `line ${e.line}: ${e.message}`))
    .join("; ");
  const more = errors.length > 3 ? ` (and ${errors.length - 3} more problems; the batch's errors list them)` : "";
  const partial =
    row.completedCount + row.failedCount > 0 && row.resultsPath
      ? ` What was answered before it failed is in ${row.resultsPath}.`
      : "";
  return `${shown}${more}${partial}`;
}

export function toReferenceBatch(row: BatchRow): ReferenceBatch {
  return {
    batch_id: row.id,
    cluster: row.clusterName,
    created_at: referenceTime(row.createdAt),
    framework: row.framework,
    input_file: row.inputPath,
    status: referenceStatus(row.status),
  };
}

export function finishedAt(row: BatchRow): Date | null {
  return row.completedAt ?? row.failedAt ?? row.expiredAt ?? row.cancelledAt;
}

export function toReferenceDetail(row: BatchRow): ReferenceBatchDetail {
  const ended = finishedAt(row);
  return {
    ...toReferenceBatch(row),
    model: row.model,
    output_folder_path: row.outputDir ?? "",
    detailed_status: row.status,
    request_counts: { total: row.totalCount, completed: row.completedCount, failed: row.failedCount },
    results_file: row.resultsPath,
    progress_file: row.progressPath,
    errors_file: row.errorsPath,
    started_at: row.inProgressAt ? referenceTime(row.inProgressAt) : null,
    finished_at: ended ? referenceTime(ended) : null,
    errors: errorsOf(row),
  };
}
