import type {
  ApiKeyObject,
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  CreateApiKeyRequest,
  CreatedApiKey,
  EmbeddingRequest,
  EmbeddingResponse,
  EndpointList,
  JobsView,
  Me,
  ModelObject,
  ModelStatusFilter,
} from "@switchyard/core";
import type { OpenAI, ClientOptions as OpenAIOptions } from "openai";
import { Batches, Files } from "./batches";
import { apiErrorFrom, ModelNotReadyError, SwitchyardSDKError } from "./errors";
import { type Fetch, oauthPost, send, sleep, USER_AGENT, withTimeout } from "./http";
import { DEFAULT_SERVER, normalizeServer } from "./server-url";
import { StoredLogin } from "./session";
import { jsonEvents } from "./sse";
import { defaultTokenPath, TokenStore } from "./token-store";

export interface SwitchyardOptions {
  /** The server, e.g. `http://127.0.0.1:8080` (a trailing `/v1` is fine). Default: `SWITCHYARD_URL`, then the server of the last `sy login`, then http://127.0.0.1:8080. */
  baseURL?: string | undefined;
  /** An API key (`sy_...`) or access token. Default: `SWITCHYARD_API_KEY`, then the login stored by `sy login`. */
  apiKey?: string | undefined;
  /** The token store (default: `~/.config/switchyard/tokens.json`, respecting `XDG_CONFIG_HOME`), or its path. */
  tokenStore?: TokenStore | string | undefined;
  /** Where `SWITCHYARD_URL`, `SWITCHYARD_API_KEY` and `XDG_CONFIG_HOME` are read (default: `process.env`). */
  env?: NodeJS.ProcessEnv | undefined;
  /** Milliseconds before a (non-streaming) call gives up; 0 for none. Default 60 s. */
  timeout?: number | undefined;
  fetch?: Fetch | undefined;
}

export interface RequestOptions {
  signal?: AbortSignal | undefined;
}

/** Waiting for a cold model: retry a 503 `model_not_ready` as its `Retry-After` says, up to `maxWaitMs`. */
export interface WaitForModel {
  /** Give up (throwing the last ModelNotReadyError) once this much time has passed. Default 15 minutes. */
  maxWaitMs?: number;
  /** Told each time the model is not ready yet, with how long the next wait is. */
  onWait?: (error: ModelNotReadyError, wait: { retryInMs: number; waitedMs: number }) => void;
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
}

/** Inference waits for the model (the server holds a cold start, then generation): as long as openai's default. */
const INFERENCE_TIMEOUT_MS = 10 * 60_000;

/**
 * The Switchyard client: typed calls for Switchyard's own routes (model statuses, jobs,
 * endpoints, who am I, API keys), small chat and embedding calls, and `openai()` for the rest.
 * Credentials refresh by themselves; errors are typed from the server's error catalogue.
 */
export class Switchyard {
  /** The server's normalized URL (no trailing `/v1`). */
  readonly baseURL: string;
  readonly tokenStore: TokenStore;
  private readonly apiKey: string | undefined;
  private readonly login: StoredLogin;
  private readonly fetcher: Fetch;
  private readonly timeout: number;

  constructor(options: SwitchyardOptions = {}) {
    const env = options.env ?? process.env;
    this.tokenStore =
      options.tokenStore instanceof TokenStore
        ? options.tokenStore
        : new TokenStore(options.tokenStore ?? defaultTokenPath(env));
    const apiKey = options.apiKey ?? env.SWITCHYARD_API_KEY;
    this.apiKey = apiKey?.trim() ? apiKey.trim() : undefined;
    const chosen = options.baseURL ?? env.SWITCHYARD_URL ?? this.lastServer();
    this.baseURL = normalizeServer(chosen || DEFAULT_SERVER);
    this.fetcher = options.fetch ?? fetch;
    this.timeout = options.timeout ?? 60_000;
    this.login = new StoredLogin(this.baseURL, this.tokenStore, this.fetcher);
  }

  /** The server of the last `sy login`; a damaged token file only matters when it is the credential. */
  private lastServer(): string | null {
    try {
      return this.tokenStore.read().default_server;
    } catch (error) {
      if (this.apiKey) return null;
      throw error;
    }
  }

  /** How this client authenticates: an API key (or token) given to it, or the login stored for the server. */
  get credentialSource(): "api_key" | "login" {
    return this.apiKey ? "api_key" : "login";
  }

  /**
   * A bearer credential for this server: the API key, or the stored access token, refreshed when
   * it is about to expire. Throws LoginRequiredError when there is no login (or it ended).
   */
  async accessToken(): Promise<string> {
    return this.apiKey ?? this.login.accessToken();
  }

  /** The stored login's access token itself (never an API key), refreshed if needed: what `sy token` prints. */
  async storedAccessToken(): Promise<string> {
    return this.login.accessToken();
  }

  /** The stored login for this server, if any (username, expiry); no network. */
  storedLogin() {
    return this.login.current();
  }

  // ---- Switchyard's own routes ---------------------------------------------------------

  readonly models = {
    /** Every model you may use, with its status (live, starting, queued, offline), queue position and ETA. */
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
  jobs(cluster: string, options: RequestOptions = {}): Promise<JobsView> {
    return this.json<JobsView>(`/resource_server/${encodeURIComponent(cluster)}/jobs`, options);
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

  /** End the stored login: revoke its tokens on the server (best effort) and forget them here. */
  async logout(): Promise<{ username: string } | undefined> {
    const removed = await this.tokenStore.update((file) => {
      const session = file.servers[this.baseURL];
      delete file.servers[this.baseURL];
      if (file.default_server === this.baseURL) file.default_server = null;
      return session;
    });
    if (!removed) return undefined;
    for (const token of [removed.refresh_token, removed.access_token]) {
      await oauthPost(this.fetcher, this.baseURL, "/auth/revoke", { token }).catch(() => {});
    }
    return { username: removed.username };
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private readonly transport: Transport = {
    json: (path, options) => this.json(path, options),
    call: (path, options) => this.call(path, options),
  };

  /** Batch input files (OpenAI's Files API): upload from disk as a stream, look up, download. */
  readonly files = new Files(this.transport);

  /** Batches through OpenAI's Batches API, `wait` for one to end, its results; `reference` for the path-based API. */
  readonly batches = new Batches(this.transport, this.files);

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
    for (let attempt = 0; ; attempt++) {
      const { upload } = options;
      const response = await send(this.fetcher, this.baseURL, `${this.baseURL}${path}`, {
        method: options.method ?? "GET",
        headers: {
          authorization: `Bearer ${token}`,
          accept: options.raw ? "text/event-stream, application/json" : "application/json",
          "user-agent": USER_AGENT,
          ...(options.body === undefined ? {} : { "content-type": "application/json" }),
          ...(upload ? { "content-type": upload.contentType } : {}),
          ...(upload?.length === undefined ? {} : { "content-length": String(upload.length) }),
        },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        // A stream, not a buffer: a 200 MB file never sits in memory. Without `redirect: "error"` and
        // `window: null`, fetch clones the request (tee-ing the body, to replay it on a redirect) and
        // so keeps every byte sent until the upload ends.
        ...(upload
          ? {
              body: ReadableStream.from(upload.body()),
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
      if (error.code === "token_expired" && !this.apiKey && attempt === 0 && (!upload || upload.replayable)) {
        token = await this.login.accessToken(token);
        continue;
      }
      throw error;
    }
  }

  private async waiting<T>(options: InferenceOptions, work: () => Promise<T>): Promise<T> {
    const wait = options.waitForModel === true ? {} : options.waitForModel || undefined;
    if (!wait) return work();
    const maxWaitMs = wait.maxWaitMs ?? 15 * 60_000;
    const started = Date.now();
    for (;;) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof ModelNotReadyError)) throw error;
        const waitedMs = Date.now() - started;
        const retryInMs = Math.max(1000, (error.retryAfter ?? 5) * 1000);
        if (waitedMs + retryInMs > maxWaitMs) throw error;
        wait.onWait?.(error, { retryInMs, waitedMs });
        await sleep(retryInMs, options.signal);
      }
    }
  }
}
