import { type FileLike, FormDataEncoder, type FormDataLike } from "form-data-encoder";
import { chunksOf } from "./streams";

/**
 * The `multipart/form-data` body of an upload, encoded by form-data-encoder as a stream: the
 * text fields, then one file whose bytes are passed through as they are read (never gathered in
 * memory), with the body's length when the file's size is known. The file is form-data-encoder's
 * `FileLike` (anything with `name`, `size` and `stream()`), so it can be a Blob (a file on disk
 * from `fs.openAsBlob`, a browser File) or a stream of unknown size (a file rewritten as it is
 * read), which a standard FormData could hold only by buffering it whole.
 */
export function encodeForm(
  fields: Record<string, string>,
  fileField: string,
  file: { name: string; type: string; size: number | undefined; stream: () => AsyncIterable<Uint8Array> },
): { contentType: string; length: number | undefined; body: () => AsyncIterable<Uint8Array> } {
  const part: FileLike = {
    name: file.name,
    type: file.type,
    size: file.size ?? Number.NaN, // NaN: form-data-encoder then gives no Content-Length
    lastModified: Date.now(),
    stream: file.stream,
    [Symbol.toStringTag]: "File",
  };
  const encoder = new FormDataEncoder(formOf([...Object.entries(fields), [fileField, part]]));
  return {
    contentType: encoder.contentType,
    length: encoder.contentLength === undefined ? undefined : Number(encoder.contentLength),
    body: () => encoder.encode(),
  };
}

/** The bytes of a Blob, read as they are sent (`for await` over a ReadableStream is not in every browser). */
export function blobChunks(blob: Blob): AsyncIterable<Uint8Array> {
  return chunksOf(blob.stream() as ReadableStream<Uint8Array>);
}

/** The entries as the FormData-like form form-data-encoder reads (a standard FormData takes no stream). */
function formOf(entries: [string, string | FileLike][]): FormDataLike {
  return {
    append() {
      throw new TypeError("This form is complete.");
    },
    getAll: (name) => entries.filter(([key]) => key === name).map(([, value]) => value),
    entries: () => entries[Symbol.iterator](),
    [Symbol.iterator]: () => entries[Symbol.iterator](),
    [Symbol.toStringTag]: "FormData",
  };
}
