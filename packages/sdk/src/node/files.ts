import { openAsBlob } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import type { LocalFile } from "../batches";
import { SwitchyardSDKError } from "../errors";

/**
 * A file on disk for `files.upload(path)`: its name, and `fs.openAsBlob`'s Blob of it, whose
 * bytes are read from disk as they are sent. Should the file change before or while it is read,
 * reading it fails (Node's NotReadableError) rather than sending a mix of two versions.
 */
export async function openLocalFile(file: string): Promise<LocalFile> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new SwitchyardSDKError(`Cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : error.message}.`, {
      cause: error,
    });
  });
  if (!info.isFile()) throw new SwitchyardSDKError(`${file} is not a file.`);
  return { filename: path.basename(file), blob: await openAsBlob(file, { type: "application/jsonl" }) };
}
