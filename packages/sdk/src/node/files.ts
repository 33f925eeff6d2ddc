import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import type { LocalFile } from "../batches";
import { SwitchyardSDKError } from "../errors";

/** A file on disk for `files.upload(path)`: its name and size, and its bytes as a stream (256 KiB reads). */
export async function openLocalFile(file: string): Promise<LocalFile> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new SwitchyardSDKError(`Cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : error.message}.`, {
      cause: error,
    });
  });
  if (!info.isFile()) throw new SwitchyardSDKError(`${file} is not a file.`);
  return {
    filename: path.basename(file),
    bytes: info.size,
    content: () => createReadStream(file, { highWaterMark: 256 * 1024 }),
  };
}
