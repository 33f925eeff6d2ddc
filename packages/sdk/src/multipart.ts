export interface MultipartFile {
  filename: string;
  contentType: string;
  /** Size in bytes, when known: then the whole body's length is known too. */
  bytes: number | undefined;
  content: () => AsyncIterable<Uint8Array>;
}

/** `filename="..."` as browsers send it, plus RFC 5987's `filename*` when the name is not ASCII. */
function filenameParams(filename: string): string {
  const plain = filename.replace(/"/g, "%22").replace(/\r/g, "%0D").replace(/\n/g, "%0A");
  if (/^[\x20-\x7e]*$/.test(filename)) return `filename="${plain}"`;
  const ascii = plain.replace(/[^\x20-\x7e]/g, "_");
  return `filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}

/**
 * A `multipart/form-data` body built as a stream: the text fields, then one file whose bytes are
 * passed through as they are read (never gathered in memory).
 */
export function multipartBody(
  fields: Record<string, string>,
  fileField: string,
  file: MultipartFile,
): { contentType: string; length: number | undefined; body: () => AsyncIterable<Uint8Array> } {
  const random = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0"));
  const boundary = `----switchyard-${random.join("")}`;
  const encoder = new TextEncoder();
  const head = encoder.encode(
    [
      ...Object.entries(fields).map(
        ([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      ),
      `--${boundary}\r\nContent-Disposition: form-data; name="${fileField}"; ${filenameParams(file.filename)}\r\n`,
      `Content-Type: ${file.contentType}\r\n\r\n`,
    ].join(""),
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: file.bytes === undefined ? undefined : head.byteLength + file.bytes + tail.byteLength,
    body: async function* () {
      yield head;
      yield* file.content();
      yield tail;
    },
  };
}
