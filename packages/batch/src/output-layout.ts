import { createHash, randomBytes } from "node:crypto";
import path from "node:path";

export function newBatchId(): string {
  return `batch_${randomBytes(12).toString("hex")}`;
}

export interface OutputLayout {
  dir: string;
  results: string;
  errors: string;
  progress: string;
}

function stamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15); // 20261125-083012
}

/** A model id as a file name part: `meta-llama/Llama-3.1-8B` -> `meta-llama_Llama-3.1-8B`. */
function fileSafe(value: string): string {
  return value.replace(/[^\w.-]+/g, "_");
}

/**
 * The reference service's layout:
 * `<output_folder>/<input-name>_<model>_<batch-id>/<input-name>_<timestamp>.results.jsonl`, and
 * `.progress.json` beside it; failed lines go to `.errors.jsonl` (the reference has none).
 */
export function referenceLayout(
  outputFolder: string,
  inputFile: string,
  model: string,
  batchId: string,
  at: Date,
): OutputLayout {
  const name = fileSafe(path.basename(inputFile).replace(/\.jsonl?$/i, ""));
  const dir = path.join(outputFolder, `${name}_${fileSafe(model)}_${batchId}`);
  const base = path.join(dir, `${name}_${stamp(at)}`);
  return { dir, results: `${base}.results.jsonl`, errors: `${base}.errors.jsonl`, progress: `${base}.progress.json` };
}

/** Batches created through the OpenAI API write under the files directory. */
export function openaiLayout(filesDir: string, batchId: string): OutputLayout {
  const dir = path.join(filesDir, "batches", batchId);
  return {
    dir,
    results: path.join(dir, "results.jsonl"),
    errors: path.join(dir, "errors.jsonl"),
    progress: path.join(dir, "progress.json"),
  };
}

/** The ids of a batch's output and error files: derived from the batch, so a retried finalization reuses them. */
export function outputFileIds(batchId: string): { results: string; errors: string } {
  const id = (kind: string) => `file-${createHash("sha256").update(`${batchId}:${kind}`).digest("hex").slice(0, 24)}`;
  return { results: id("results"), errors: id("errors") };
}
