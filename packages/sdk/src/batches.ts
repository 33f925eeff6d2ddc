import {
  type Allocation,
  type BatchEndpoint,
  type BatchList,
  type BatchObject,
  type BatchOutputLine,
  type BatchPrecheck,
  type BatchPrecheckRequest,
  type BatchStatus,
  ENDED_BATCH_STATUSES,
  type FileDeleted,
  type FileObject,
  type FileObjectList,
  type ReferenceBatch,
  type ReferenceBatchDetail,
  type ReferenceBatchResult,
  type ReferenceBatchStatus,
  type ReferenceCreateBatch,
} from "@switchyard/core";
import type { CallOptions, RequestOptions, Transport } from "./client";
import {
  APIConnectionError,
  InternalServerError,
  RateLimitError,
  ServiceUnavailableError,
  SwitchyardSDKError,
} from "./errors";
import { sleep } from "./http";
import { chunksOf } from "./streams";
import { blobChunks, encodeForm } from "./upload-form";

/** Whether a batch has ended: completed, failed (rejected), expired or cancelled. */
export function isBatchEnded(status: BatchStatus): boolean {
  return ENDED_BATCH_STATUSES.includes(status);
}

/** Uploads and downloads take as long as the file needs: no timeout but the caller's signal. */
const NO_TIMEOUT = 0;

const encode = (segment: string) => encodeURIComponent(segment);

function query(params: Record<string, string | number | undefined>): string {
  const entries = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined);
  return entries.length
    ? `?${new URLSearchParams(entries.map(([k, v]): [string, string] => [k, String(v)])).toString()}`
    : "";
}

/** A file on this machine, opened for upload (`files.upload(path)`, in Node): a Blob read as it is sent. */
export interface LocalFile {
  filename: string;
  /** `fs.openAsBlob`'s: its bytes are read from disk as they are sent (again, when an upload starts over). */
  blob: Blob;
}

/**
 * What to upload: a path on this machine (Node), a Blob or File (a browser's file input), or
 * bytes from elsewhere (e.g. a file rewritten on the fly).
 */
export type UploadSource =
  | string
  | Blob
  | {
      /** The name the server records (shown in file lists). */
      filename: string;
      /**
       * The bytes. A function is called again if the upload has to start over (after a token
       * refresh); a plain iterable is read once.
       */
      content: AsyncIterable<Uint8Array> | (() => AsyncIterable<Uint8Array>);
      /** Size in bytes, when known. */
      bytes?: number;
    };

export interface UploadOptions extends RequestOptions {
  /** Only `batch` is accepted for uploads. */
  purpose: "batch";
  /** Overrides the file name recorded by the server (default: the path's base name, the File's name). */
  filename?: string;
  /**
   * Told the bytes handed to the connection so far (and the total, when known) as the upload goes.
   * In a browser, which sends a Blob itself, only at the start and the end.
   */
  onProgress?: (progress: { sentBytes: number; totalBytes: number | undefined }) => void;
}

/** The chunks of `source`, each told to `onChunk`; what reading it throws goes through `onError`. */
async function* counting(
  source: AsyncIterable<Uint8Array>,
  onChunk: (bytes: number) => void,
  onError: (error: unknown) => unknown,
): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of source) {
      onChunk(chunk.byteLength);
      yield chunk;
    }
  } catch (error) {
    throw onError(error);
  }
}

/** OpenAI's Files API, for batch input (upload) and batch output (download). */
export class Files {
  constructor(private readonly transport: Transport) {}

  /**
   * Upload a batch input file, streamed: from disk (a path, in Node), a Blob, or an async
   * iterable, never read into memory whole. Multipart to `POST /v1/files`, like the `openai` SDK.
   */
  async upload(source: UploadSource, options: UploadOptions): Promise<FileObject> {
    const { onProgress } = options;
    let file: { name: string; size: number | undefined; read: () => AsyncIterable<Uint8Array>; replayable: boolean };
    if (typeof source === "string" || source instanceof Blob) {
      const { filename, blob } =
        typeof source === "string"
          ? await this.transport.localFile(source)
          : { filename: (source as Partial<File>).name || "upload.jsonl", blob: source };
      const name = options.filename ?? filename;
      if (!this.transport.streamsUploads()) {
        // A browser: its fetch reads the Blob itself (from disk, for a picked file); a request
        // body that is a stream needs HTTP/2 in Chrome, and Firefox and Safari send none.
        const form = new FormData();
        form.append("purpose", options.purpose);
        form.append("file", blob, name);
        onProgress?.({ sentBytes: 0, totalBytes: blob.size });
        const uploaded = await this.transport.json<FileObject>("/v1/files", {
          ...options,
          method: "POST",
          form,
          timeoutMs: NO_TIMEOUT,
        });
        onProgress?.({ sentBytes: blob.size, totalBytes: blob.size });
        return uploaded;
      }
      file = { name, size: blob.size, read: () => blobChunks(blob), replayable: true };
    } else {
      const given = source.content;
      file = {
        name: options.filename ?? source.filename,
        size: source.bytes,
        read: typeof given === "function" ? given : () => given,
        replayable: typeof given === "function",
      };
    }
    // An error reading the file, which fetch would report as a broken connection.
    let readError: unknown;
    const form = encodeForm({ purpose: options.purpose }, "file", {
      name: file.name,
      type: "application/jsonl",
      size: file.size,
      stream: () => {
        let sent = 0;
        onProgress?.({ sentBytes: 0, totalBytes: file.size });
        return counting(
          file.read(),
          (n) => {
            sent += n;
            onProgress?.({ sentBytes: sent, totalBytes: file.size });
          },
          (error) => {
            readError =
              (error as Error)?.name === "NotReadableError"
                ? new SwitchyardSDKError(
                    `${typeof source === "string" ? source : file.name} changed while it was being uploaded; nothing was stored. Upload it again once it is written.`,
                    { cause: error },
                  )
                : error;
            return readError;
          },
        );
      },
    });
    try {
      return await this.transport.json<FileObject>("/v1/files", {
        ...options,
        method: "POST",
        upload: { ...form, replayable: file.replayable },
        timeoutMs: NO_TIMEOUT,
      });
    } catch (error) {
      throw readError ?? error;
    }
  }

  retrieve(id: string, options: RequestOptions = {}): Promise<FileObject> {
    return this.transport.json<FileObject>(`/v1/files/${encode(id)}`, options);
  }

  /** Your files, newest first. */
  list(
    params: { purpose?: "batch" | "batch_output"; after?: string; limit?: number } = {},
    options: RequestOptions = {},
  ): Promise<FileObjectList> {
    return this.transport.json<FileObjectList>(`/v1/files${query(params)}`, options);
  }

  delete(id: string, options: RequestOptions = {}): Promise<FileDeleted> {
    return this.transport.json<FileDeleted>(`/v1/files/${encode(id)}`, { ...options, method: "DELETE" });
  }

  /** A file's bytes as a streamed Response (like `openai`'s `files.content`): `.body`, `.text()`, ... */
  content(id: string, options: RequestOptions = {}): Promise<Response> {
    return this.transport.call(`/v1/files/${encode(id)}/content`, {
      ...options,
      timeoutMs: NO_TIMEOUT,
    } satisfies CallOptions);
  }

  /** A JSONL file's lines, parsed one at a time as they arrive. */
  async *lines<T = unknown>(id: string, options: RequestOptions = {}): AsyncGenerator<T> {
    const response = await this.content(id, options);
    if (!response.body) return;
    for await (const line of splitLines(chunksOf(response.body))) {
      if (line.trim()) yield JSON.parse(line) as T;
    }
  }
}

/** Lines of a byte stream (UTF-8), without their line endings. */
async function* splitLines(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    let end = pending.indexOf("\n");
    while (end >= 0) {
      yield pending.slice(0, end).replace(/\r$/, "");
      pending = pending.slice(end + 1);
      end = pending.indexOf("\n");
    }
  }
  pending += decoder.decode();
  if (pending) yield pending.replace(/\r$/, "");
}

export interface CreateBatchParams {
  input_file_id: string;
  endpoint: BatchEndpoint;
  /** Default "24h" (the only window the server offers unless configured otherwise). */
  completion_window?: string;
  metadata?: Record<string, string> | null;
  /** The project (allocation) to charge; default: your only active one. */
  project?: string;
}

export interface WaitOptions extends RequestOptions {
  /** Time between polls. Default 2 s. */
  intervalMs?: number;
  /** Told the batch after every poll (status and `request_counts`), including the last. */
  onProgress?: (batch: BatchObject) => void;
  /** Give up (throwing a SwitchyardSDKError) after this long. Default: never. */
  timeoutMs?: number;
  /**
   * How long the server may stay unreachable or answer 429/5xx before `wait` gives up and throws
   * that error (a restart of the server should not end a wait of hours). Default 5 minutes.
   */
  toleranceMs?: number;
}

function isTransient(error: unknown): boolean {
  return (
    error instanceof APIConnectionError ||
    error instanceof InternalServerError ||
    error instanceof ServiceUnavailableError ||
    error instanceof RateLimitError
  );
}

/** Where a reference-API call goes: the default path, or a cluster's and framework's. */
export interface ReferencePath {
  cluster?: string;
  framework?: string;
}

function referenceBase(where: ReferencePath = {}): string {
  if (where.cluster && where.framework) {
    return `/resource_server/${encode(where.cluster)}/${encode(where.framework)}/v1/batches`;
  }
  if (where.cluster || where.framework) {
    throw new SwitchyardSDKError("A reference batch path needs both cluster and framework (or neither).");
  }
  return "/resource_server/v1/batches";
}

/**
 * The reference service's path-based batch API: the input is a JSONL file on the cluster's shared
 * storage (inside its allowed directories), named by its absolute path on the server.
 */
export class ReferenceBatches {
  constructor(private readonly transport: Transport) {}

  create(body: ReferenceCreateBatch, options: RequestOptions & ReferencePath = {}): Promise<ReferenceBatchDetail> {
    return this.transport.json<ReferenceBatchDetail>(referenceBase(options), { ...options, method: "POST", body });
  }

  /** Your batches, newest first; `status` filters with the reference statuses. */
  list(
    params: { status?: ReferenceBatchStatus } = {},
    options: RequestOptions & ReferencePath = {},
  ): Promise<ReferenceBatch[]> {
    return this.transport.json<ReferenceBatch[]>(`${referenceBase(options)}${query(params)}`, options);
  }

  retrieve(id: string, options: RequestOptions & ReferencePath = {}): Promise<ReferenceBatchDetail> {
    return this.transport.json<ReferenceBatchDetail>(`${referenceBase(options)}/${encode(id)}`, options);
  }

  /** Where an ended batch's files are (paths on the server), and its metrics; 409 before it ends. */
  result(id: string, options: RequestOptions & ReferencePath = {}): Promise<ReferenceBatchResult> {
    return this.transport.json<ReferenceBatchResult>(`${referenceBase(options)}/${encode(id)}/result`, options);
  }

  cancel(id: string, options: RequestOptions & ReferencePath = {}): Promise<ReferenceBatchDetail> {
    return this.transport.json<ReferenceBatchDetail>(`${referenceBase(options)}/${encode(id)}/cancel`, {
      ...options,
      method: "POST",
    });
  }
}

/** OpenAI's Batches API, plus waiting for a batch and reading its output. */
export class Batches {
  /** The reference service's path-based API (files on shared storage). Its batches are batches here too. */
  readonly reference: ReferenceBatches;

  constructor(
    private readonly transport: Transport,
    private readonly files: Files,
  ) {
    this.reference = new ReferenceBatches(transport);
  }

  /** Start a batch from an uploaded file (`files.upload`). The model is the one the file's lines name. */
  create(params: CreateBatchParams, options: RequestOptions = {}): Promise<BatchObject> {
    const body = { ...params, completion_window: params.completion_window ?? "24h" };
    return this.transport.json<BatchObject>("/v1/batches", { ...options, method: "POST", body });
  }

  /**
   * Would a batch of this model be created? The server's checks of `create` (the completion
   * window, your active-batch limit, the model, your access to it, its batch capability), asked
   * before the input is uploaded: resolves when it would, throws the error `create` would.
   */
  precheck(params: BatchPrecheckRequest, options: RequestOptions = {}): Promise<BatchPrecheck> {
    const body = { ...params, completion_window: params.completion_window ?? "24h" };
    return this.transport.json<BatchPrecheck>("/v1/batches/precheck", { ...options, method: "POST", body });
  }

  retrieve(id: string, options: RequestOptions = {}): Promise<BatchObject> {
    return this.transport.json<BatchObject>(`/v1/batches/${encode(id)}`, options);
  }

  /**
   * The project a batch would be charged to now (the one named, or your only active one) and
   * what is left of it; throws the error a create would get (no active allocation 403, budget
   * spent 429, several projects and none named 400), so nothing needs uploading to learn it.
   */
  allocation(params: { project?: string; model?: string } = {}, options: RequestOptions = {}): Promise<Allocation> {
    return this.transport.json<Allocation>(`/v1/allocation${query(params)}`, options);
  }

  /** Your batches (from either API), newest first; `after` an id, `limit` 1 to 100 (default 20). */
  list(params: { after?: string; limit?: number } = {}, options: RequestOptions = {}): Promise<BatchList> {
    return this.transport.json<BatchList>(`/v1/batches${query(params)}`, options);
  }

  /** Ask the batch to stop: it becomes `cancelling`, then `cancelled` with the answers already received. */
  cancel(id: string, options: RequestOptions = {}): Promise<BatchObject> {
    return this.transport.json<BatchObject>(`/v1/batches/${encode(id)}/cancel`, { ...options, method: "POST" });
  }

  /**
   * Poll a batch until it ends (completed, failed, expired or cancelled) and return it. A batch
   * that failed or was cancelled is returned, not thrown: look at `status` and `errors`.
   */
  async wait(id: string, options: WaitOptions = {}): Promise<BatchObject> {
    const interval = options.intervalMs ?? 2000;
    const tolerance = options.toleranceMs ?? 5 * 60_000;
    const deadline = options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    let troubleSince: number | undefined;
    for (;;) {
      let batch: BatchObject | undefined;
      try {
        batch = await this.retrieve(id, { signal: options.signal });
        troubleSince = undefined;
      } catch (error) {
        if (!isTransient(error) || options.signal?.aborted) throw error;
        troubleSince ??= Date.now();
        if (Date.now() - troubleSince > tolerance) throw error;
      }
      if (batch) {
        options.onProgress?.(batch);
        if (isBatchEnded(batch.status)) return batch;
      }
      if (Date.now() + interval > deadline) {
        throw new SwitchyardSDKError(
          `Batch ${id} has not ended after ${Math.round((options.timeoutMs ?? 0) / 1000)} s (it is ${batch?.status ?? "unknown"}).`,
        );
      }
      await sleep(interval, options.signal);
    }
  }

  /**
   * The output lines of a batch of the OpenAI API, parsed (`errors: true`: its errors file):
   * what it answered so far once it ended. Nothing when it has no such file (no line
   * completed, or none failed). Throws while the batch is still running.
   */
  async *results(
    batch: string | BatchObject,
    options: RequestOptions & { errors?: boolean } = {},
  ): AsyncGenerator<BatchOutputLine> {
    const current = typeof batch === "string" ? await this.retrieve(batch, options) : batch;
    if (!isBatchEnded(current.status)) {
      throw new SwitchyardSDKError(`Batch ${current.id} is ${current.status}; its output is there once it ends.`);
    }
    if (current.input_file_id === null) {
      throw new SwitchyardSDKError(
        `Batch ${current.id} was created through the reference API: its results are files on the server's shared storage (batches.reference.retrieve gives their paths).`,
      );
    }
    const fileId = options.errors ? current.error_file_id : current.output_file_id;
    if (!fileId) return;
    yield* this.files.lines<BatchOutputLine>(fileId, options);
  }
}
