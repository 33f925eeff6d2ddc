import type { Readable } from "node:stream";
import type { FileStore, StagedUpload } from "@switchyard/batch";
import { apiError, type BatchSettings, formatBytes } from "@switchyard/core";
import busboy from "busboy";
import type { Request } from "express";

/** The form's fields besides the file (OpenAI's SDKs send `expires_after` as two bracketed fields). */
interface UploadFields {
  purpose?: string;
  "expires_after[anchor]"?: string;
  "expires_after[seconds]"?: string;
}

/**
 * A multipart upload (`file` and `purpose`, in either order): the file is streamed to disk as
 * it arrives, and kept only if the form is right and it fits the size limit and the user's
 * storage. A user with no room left is refused before any of the body is read; a client that
 * drops the connection leaves nothing behind.
 */
export async function receiveUpload(
  req: Request,
  files: FileStore,
  userId: string,
  maxBytes: number,
): Promise<{ staged: StagedUpload; filename: string; fields: UploadFields }> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (type !== "multipart/form-data") {
    throw apiError("unsupported_content_type", { contentType: type || "(none)", expected: "multipart/form-data" });
  }
  const declared = Number(req.headers["content-length"]);
  if (declared > maxBytes + FORM_OVERHEAD) throw apiError("payload_too_large", { limit: formatBytes(maxBytes) });
  const room = await files.room(userId, Number.isFinite(declared) ? Math.max(0, declared - FORM_OVERHEAD) : 0);
  const limit = Math.min(maxBytes, room);
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // A file name as browsers, fetch's FormData and the SDK send it: UTF-8 as it is (busboy
        // would read it as Latin-1). RFC 5987's `filename*`, when a client sends one, still wins.
        defParamCharset: "utf8",
        limits: { files: 1, fileSize: limit, fields: 8, fieldSize: 64 * 1024 },
      });
    } catch (error) {
      reject(apiError("invalid_body", { expected: `a multipart form (${(error as Error).message})` }));
      return;
    }
    const fields: UploadFields = {};
    let upload: Promise<{ staged: StagedUpload; filename: string; truncated: () => boolean }> | undefined;
    let fileStream: Readable | undefined;
    // The client went away before the form ended: stop writing and remove what was written.
    const abandon = () => {
      if (req.complete) return;
      const error = apiError("invalid_body", { expected: "a complete multipart form (the upload was interrupted)" });
      // Its reader may be done with it (the file part ended before the form did): without a
      // listener of its own, the error it is destroyed with would be an uncaught exception.
      fileStream?.once("error", () => {});
      fileStream?.destroy(error);
      req.unpipe(parser);
      parser.destroy();
      reject(error);
    };
    req.once("close", abandon);
    parser.on("field", (name, value) => {
      if (name === "purpose" || name === "expires_after[anchor]" || name === "expires_after[seconds]") {
        fields[name] = value;
      }
    });
    parser.on("file", (name, stream, info) => {
      if (name !== "file" || upload) {
        stream.resume();
        return;
      }
      fileStream = stream;
      upload = files.stage(stream).then((staged) => ({
        staged,
        filename: info.filename || "upload.jsonl",
        truncated: () => (stream as unknown as { truncated?: boolean }).truncated === true,
      }));
      upload.catch(() => {});
    });
    parser.on("error", (error: Error) =>
      reject(apiError("invalid_body", { expected: `a multipart form (${error.message})` })),
    );
    parser.on("close", () => {
      req.off("close", abandon);
      if (!upload) {
        reject(apiError("missing_required_field", { param: "file" }, { param: "file" }));
        return;
      }
      upload.then(async (done) => {
        if (done.truncated()) {
          await files.discard(done.staged);
          reject(
            limit < maxBytes
              ? files.overQuota(files.limits.maxStorageBytesPerUser - room, limit + 1)
              : apiError("payload_too_large", { limit: formatBytes(maxBytes) }),
          );
          return;
        }
        resolve({ staged: done.staged, filename: done.filename, fields });
      }, reject);
    });
    req.pipe(parser);
  });
}

/** Multipart framing around the file: headers, boundaries and the small fields. */
const FORM_OVERHEAD = 64 * 1024;

/** `expires_after` as OpenAI takes it: anchor `created_at`, 1 hour up to `batch.fileExpiry`. */
export function expiresAfter(fields: UploadFields, settings: BatchSettings): number | undefined {
  const anchor = fields["expires_after[anchor]"];
  const raw = fields["expires_after[seconds]"];
  if (anchor === undefined && raw === undefined) return undefined;
  if (anchor !== "created_at") {
    throw apiError(
      "invalid_field",
      { param: "expires_after.anchor", detail: 'expected "created_at"' },
      { param: "expires_after.anchor" },
    );
  }
  const seconds = Number(raw);
  const most = settings.fileExpiry > 0 ? settings.fileExpiry : 30 * 86_400;
  if (!Number.isInteger(seconds) || seconds < 3600 || seconds > most) {
    throw apiError(
      "invalid_field",
      { param: "expires_after.seconds", detail: `expected a whole number of seconds from 3600 to ${most}` },
      { param: "expires_after.seconds" },
    );
  }
  return seconds;
}
