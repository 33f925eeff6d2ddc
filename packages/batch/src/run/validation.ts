import type { BatchEndpoint, BatchError, ResolvedModel } from "@switchyard/core";
import { MAX_REPORTED, validateBatchFile } from "../validate";
import type { Endings } from "./endings";
import type { RunFiles } from "./open-files";
import type { Progress } from "./progress";
import { type RunResources, reload } from "./resources";

/**
 * The validation pass of a new batch: every line is read (through the opened input) and
 * checked before any request is sent. A file with problems fails the batch with the first
 * `MAX_REPORTED` of them; a good one moves it to `in_progress` with its line count. True when
 * the batch is to run now.
 */
export async function validateInput(
  res: RunResources,
  parts: { files: RunFiles; model: ResolvedModel | undefined; endings: Endings; progress: Progress },
): Promise<boolean> {
  const { batch, deps, store, log } = res;
  const { model } = parts;
  const names = new Set(model ? [model.id, ...model.aliases] : []);
  const result = await validateBatchFile(parts.files.inputSource, {
    ...(batch.api === "openai" ? { endpoint: batch.endpoint as BatchEndpoint } : {}),
    modelNames: names,
    model: model?.id ?? "",
    ...(batch.api === "reference" && model ? { defaultModel: model.id } : {}),
    maxLines: deps.settings.maxLines,
    maxBytes: deps.settings.maxFileBytes,
    maxLineBytes: deps.settings.maxLineBytes,
  }).catch((error: Error) => ({
    ok: false,
    lines: 0,
    endpoint: null,
    errorCount: 1,
    errors: [
      {
        code: "unreadable_file",
        message: `The input file cannot be read: ${error.message}`,
        param: null,
        line: null,
      },
    ],
  }));
  if (!result.ok) {
    const errors: BatchError[] = [...result.errors];
    if (result.errorCount > errors.length) {
      errors.push({
        code: "more_errors",
        message: `${result.errorCount - errors.length} more problems are not listed (the first ${MAX_REPORTED} are).`,
        param: null,
        line: null,
      });
    }
    const failed = await store.transition(batch.id, "validating", "failed", {
      failedAt: new Date(res.now()),
      errors,
      totalCount: result.lines,
    });
    if (failed) {
      log.info({ problems: result.errorCount, lines: result.lines }, "batch: the file failed validation");
      batch.status = "failed";
      await parts.progress.write("failed");
    } else {
      await reload(res);
      if (batch.status === "cancelling") await parts.endings.recoverCancelled();
    }
    return false;
  }
  const running = await store.transition(batch.id, "validating", "in_progress", {
    inProgressAt: new Date(res.now()),
    totalCount: result.lines,
    ...(result.endpoint ? { endpoint: result.endpoint } : {}),
  });
  await reload(res);
  if (!running) {
    if (batch.status === "cancelling") await parts.endings.recoverCancelled();
    return false;
  }
  log.info({ lines: result.lines }, "batch: validated; running");
  return true;
}
