import type {
  ApiKeyObject,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  ClusterStatusMap,
  CreateApiKeyRequest,
  CreatedApiKey,
  EmbeddingRequest,
  EmbeddingResponse,
  EndpointList,
  Me,
  ModelDetails,
  ModelObject,
  ModelStatusFilter,
  ResourceJobsView,
} from "@switchyard/core";
import type { OpenAI, ClientOptions as OpenAIOptions } from "openai";
import { Batches, Files, type LocalFile } from "./batches";
import { apiErrorFrom, SwitchyardSDKError } from "./errors";
import { type Fetch, send, USER_AGENT, withTimeout } from "./http";
import { DEFAULT_SERVER, normalizeServer } from "./server-url";
import { jsonEvents } from "./sse";
import { streamFrom } from "./streams";
import { type WaitForModel, waitForModel } from "./wait";

/**
 * A bearer credential that changes (a session's access token): asked before every request.
 * `rejected` is a token the server just refused as expired: hand out a fresh one.
 */
export type TokenSource = (rejected?: string) => string | Promise<string>;

/** The client's options in any JavaScript runtime (`@switchyard/sdk/node` adds the token store and the environment). */
export interface SwitchyardOptions {
  /** The server, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is fine). Default: http://127.0.0.1:8080. */
  baseURL?: string | undefined;
  /** An API key (`sy_...`) or access token, or a function that hands out a current one. */
  apiKey?: string | TokenSource | undefined;
  /** Milliseconds before a (non-streaming) call gives up; 0 for none. Default 60 s. */
  timeout?: number | undefined;
  fetch?: Fetch | undefined;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
}

export interface InferenceOptions extends RequestOptions {
  /** Wait for a model that is starting or queued instead of failing at once. */
  waitForModel?: WaitForModel | boolean | undefined;
}

/** A streamed chat completion: iterate for chunks; `response` has the headers (`x-request-id`, rate limits). */
export interface ChatCompletionStream extends AsyncIterable<ChatCompletionChunk> {
  response: Response;
}

/** One request of the client: what `Files` and `Batches` are built on. */
export interface CallOptions extends RequestOptions {
  method?: string;
  /** A JSON body. */
  body?: unknown;
  /** A streamed body instead (an upload); `body()` is called once per attempt. */
  upload?: StreamedBody;
  /** A form the runtime's fetch encodes and sends itself (a browser's upload of a Blob). */
  form?: FormData;
  /** Stream the answer (no timeout, the body is read by the caller). */
  raw?: boolean;
  /** Overrides the client's timeout (inference may take minutes). */
  timeoutMs?: number;
}

export interface StreamedBody {
  contentType: string;
  /** Bytes, when known in advance (the server can then refuse a file over its limit before it is sent). */
  length: number | undefined;
  body: () => AsyncIterable<Uint8Array>;
  /** Whether `body()` can start over (a file on disk can; a one-shot stream cannot). */
  replayable: boolean;
}

/** What Files and Batches need of the client: JSON calls and raw responses with its credentials. */
export interface Transport {
  json<T>(path: string, options?: CallOptions): Promise<T>;
  call(path: string, options: CallOptions): Promise<Response>;
  /** A file on this machine, to upload by its path (Node only). */
  localFile(path: string): Promise<LocalFile>;
  /**
   * Whether uploads go as a stream the client encodes (Node: progress as bytes go, any source)
   * or, for a Blob, as a FormData the runtime sends itself (a browser, which streams no request body).
   */
  streamsUploads(): boolean;
}

/** Inference waits for the model (the server holds a cold start, then generation): as long as openai's default. */
const INFERENCE_TIMEOUT_MS = 10 * 60_000;

/**
 * The Switchyard client: typed calls for Switchyard's own routes (model statuses, jobs,
 * endpoints, who am I, API keys), small chat and embedding calls, and `openai()` for the rest.
 * Errors are typed from the server's error catalogue. This class runs in any JavaScript
 * runtime (a browser too); in Node, `@switchyard/sdk/node`'s `Switchyard` extends it with the
 * login `sy login` stored, the environment, and uploads from a path.
 */
export class Switchyard {
  /** The server's normalized URL (no trailing `/v1`). */
  readonly baseURL: string;
  private readonly credential: string | TokenSource | undefined;
  protected readonly fetcher: Fetch;
  private readonly timeout: number;

  constructor(options: SwitchyardOptions = {}) {
    this.baseURL = normalizeServer(options.baseURL || DEFAULT_SERVER);
    this.credential = options.apiKey;
    this.fetcher = options.fetch ?? fetch;
    this.timeout = options.timeout ?? 60_000;
  }

  /** The bearer credential for the next request (none when the client was given none). */
  async accessToken(): Promise<string> {
    const credential = this.credential;
    return typeof credential === "function" ? credential() : (credential ?? "");
  }

  // ---- Switchyard's own routes ---------------------------------------------------------

  readonly models = {
    /** Every model you may use, with its status (live, starting, queued, offline), queue position, ETA and replicas. */
    list: async (options: { status?: ModelStatusFilter } & RequestOptions = {}): Promise<ModelObject[]> => {
      const { data } = await this.json<{ data: ModelObject[] }>("/v1/models", options);
      const status = options.status ?? "all";
      return status === "all" ? data : data.filter((m) => m.status === status);
    },
    /** One model by id or alias. */
    retrieve: (id: string, options: RequestOptions = {}): Promise<ModelObject> =>
      this.json<ModelObject>(`/v1/models/${id.split("/").map(encodeURIComponent).join("/")}`, options),
  };

  /** What runs, waits and failed on a cluster, and its nodes. */
  jobs(cluster: string, options: RequestOptions = {}): Promise<ResourceJobsView> {
    return this.json<ResourceJobsView>(`/resource_server/${encodeURIComponent(cluster)}/jobs`, options);
  }

  /** A cluster's models you may use, with capabilities and token limits (`modelId`: just that one). */
  clusterModels(
    cluster: string,
    params: { modelId?: string } = {},
    options: RequestOptions = {},
  ): Promise<ModelDetails[]> {
    const query = params.modelId === undefined ? "" : `?model_id=${encodeURIComponent(params.modelId)}`;
    return this.json<ModelDetails[]>(`/resource_server/${encodeURIComponent(cluster)}/models${query}`, options);
  }

  /** Which clusters open to every user are up (the public `GET /resource_server/status`). */
  clusterStatus(options: RequestOptions = {}): Promise<ClusterStatusMap> {
    return this.json<ClusterStatusMap>("/resource_server/status", options);
  }

  /** Every cluster, its frameworks, their models and endpoint paths. */
  endpoints(options: RequestOptions = {}): Promise<EndpointList> {
    return this.json<EndpointList>("/resource_server/list-endpoints", options);
  }

  /** Who the credentials belong to: username, role, groups, how they authenticated, when they expire. */
  me(options: RequestOptions = {}): Promise<Me> {
    return this.json<Me>("/v1/me", options);
  }

  /** Your own API keys (needs a login, or a key with the `keys` scope). */
  readonly keys = {
    list: async (options: RequestOptions = {}): Promise<ApiKeyObject[]> =>
      (await this.json<{ data: ApiKeyObject[] }>("/v1/keys", options)).data,
    /** A new key; its secret (`key`) is in this answer only. */
    create: (body: CreateApiKeyRequest = {}, options: RequestOptions = {}): Promise<CreatedApiKey> =>
      this.json<CreatedApiKey>("/v1/keys", { ...options, method: "POST", body }),
    revoke: (id: string, options: RequestOptions = {}): Promise<ApiKeyObject> =>
      this.json<ApiKeyObject>(`/v1/keys/${encodeURIComponent(id)}`, { ...options, method: "DELETE" }),
  };

  // ---- inference (the openai package does more: see openai()) ---------------------------

  readonly chat = {
    completions: {
      create: (body: ChatCompletionRequest, options: InferenceOptions = {}): Promise<ChatCompletion> =>
        this.waiting(options, () =>
          this.json<ChatCompletion>("/v1/chat/completions", {
            ...options,
            method: "POST",
            body: { ...body, stream: false },
            timeoutMs: INFERENCE_TIMEOUT_MS,
          }),
        ),
      /** Stream the answer; a 503 or other error is thrown before the first chunk. */
      stream: (body: ChatCompletionRequest, options: InferenceOptions = {}): Promise<ChatCompletionStream> =>
        this.waiting(options, async () => {
          const response = await this.call("/v1/chat/completions", {
            ...options,
            method: "POST",
            body: { ...body, stream: true },
            raw: true,
          });
          if (!response.body) throw new SwitchyardSDKError("The server sent no stream.");
          const stream = response.body;
          return {
            response,
            [Symbol.asyncIterator]: () => jsonEvents<ChatCompletionChunk>(stream, response.headers),
          };
        }),
    },
  };

  readonly embeddings = {
    create: (body: EmbeddingRequest, options: InferenceOptions = {}): Promise<EmbeddingResponse> =>
      this.waiting(options, () =>
        this.json<EmbeddingResponse>("/v1/embeddings", {
          ...options,
          method: "POST",
          body,
          timeoutMs: INFERENCE_TIMEOUT_MS,
        }),
      ),
  };

  /**
   * An `openai` client for this server (`<server>/v1`) whose key is this client's credential,
   * refreshed before each request when it is about to expire. Needs the `openai` package.
   */
  async openai(options: Omit<OpenAIOptions, "apiKey" | "baseURL"> = {}): Promise<OpenAI> {
    let OpenAIClass: typeof OpenAI;
    try {
      OpenAIClass = (await import("openai")).default;
    } catch (error) {
      throw new SwitchyardSDKError("openai() needs the 'openai' package: npm install openai", { cause: error });
    }
    return new OpenAIClass({ ...options, baseURL: `${this.baseURL}/v1`, apiKey: () => this.accessToken() });
  }

  // ---- plumbing -----------------------------------------------------------------------------

  protected readonly transport: Transport = {
    json: (path, options) => this.json(path, options),
    call: (path, options) => this.call(path, options),
    localFile: (path) => this.localFile(path),
    streamsUploads: () => this.streamsUploads(),
  };

  /** Batch input files (OpenAI's Files API): upload from disk as a stream, look up, download. */
  readonly files = new Files(this.transport);

  /** Batches through OpenAI's Batches API, `wait` for one to end, its results; `reference` for the path-based API. */
  readonly batches = new Batches(this.transport, this.files);

  /** Whether uploads of a Blob go as a stream this client encodes (Node) or as a FormData fetch sends (elsewhere). */
  protected streamsUploads(): boolean {
    return false;
  }

  /** A file on this machine for `files.upload(path)`: there is none outside Node. */
  protected localFile(path: string): Promise<LocalFile> {
    return Promise.reject(
      new SwitchyardSDKError(
        `Cannot upload ${path} by its path here: that needs Node ('@switchyard/sdk/node'). Pass a Blob (a File from a file input) or { filename, content } instead.`,
      ),
    );
  }

  private async json<T>(path: string, options: CallOptions = {}): Promise<T> {
    const response = await this.call(path, options);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      // Something else answers at this address (a web page, a proxy): say so rather than "Unexpected token".
      throw new SwitchyardSDKError(
        `${this.baseURL} answered ${options.method ?? "GET"} ${path} with something that is not JSON; is it a Switchyard server? (${text.replace(/\s+/g, " ").slice(0, 80)})`,
      );
    }
  }

  /** One request with the current credential; an expired token is refreshed and the request sent once more. */
  private async call(path: string, options: CallOptions): Promise<Response> {
    let token = await this.accessToken();
    const credential = this.credential;
    for (let attempt = 0; ; attempt++) {
      const { upload } = options;
      const response = await send(this.fetcher, this.baseURL, `${this.baseURL}${path}`, {
        method: options.method ?? "GET",
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          accept: options.raw ? "text/event-stream, application/json" : "application/json",
          "user-agent": USER_AGENT,
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...(upload ? { "content-type": upload.contentType } : {}),
          ...(upload?.length === undefined ? {} : { "content-length": String(upload.length) }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        // fetch sets the form's content-type (with its boundary) and length itself.
        ...(options.form ? { body: options.form, redirect: "error" as const, window: null } : {}),
        // A stream, not a buffer: a 200 MB file never sits in memory. Without `redirect: "error"` and
        // `window: null`, fetch clones the request (tee-ing the body, to replay it on a redirect) and
        // so keeps every byte sent until the upload ends.
        ...(upload
          ? {
              body: streamFrom(upload.body()),
              duplex: "half" as const,
              redirect: "error" as const,
              window: null,
            }
          : {}),
        signal: withTimeout(options.signal, options.raw ? 0 : (options.timeoutMs ?? this.timeout)),
      });
      if (response.ok) return response;
      const error = apiErrorFrom(response.status, response.headers, await response.text().catch(() => ""));
      // The server's clock (not ours) decides expiry: when it says so, refresh and try once more.
      if (
        error.code === "token_expired" &&
        typeof credential === "function" &&
        attempt === 0 &&
        (!upload || upload.replayable)
      ) {
        token = await credential(token);
        continue;
      }
      throw error;
    }
  }

  private waiting<T>(options: InferenceOptions, work: () => Promise<T>): Promise<T> {
    const wait = options.waitForModel === true ? {} : options.waitForModel || undefined;
    if (!wait) return work();
    return waitForModel(work, { ...wait, signal: options.signal });
  }
}
