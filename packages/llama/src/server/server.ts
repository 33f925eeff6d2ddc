import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { apiError, asSwitchyardError, renderError, SwitchyardError } from "@switchyard/core";
import { parseGeneratedModelRef } from "../gguf/models";
import { LlamaEngine } from "./engine";
import { sendError, sendJson } from "./http";
import { type MetricsSnapshot, ServerMetrics } from "./metrics";
import { type LlamaServerOptions, type LlamaServerOptionsInput, parseLlamaServerOptions } from "./options";
import type { RouteContext } from "./requests";
import { chatCompletions } from "./routes/chat";
import { completions } from "./routes/completions";
import { embeddings } from "./routes/embeddings";
import { applyTemplate, detokenize, tokenize } from "./routes/tokens";
import { SlotWaitAborted } from "./slots";

/** Bodies above this are refused with 413 before they are read whole. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
/** Status recorded for a request whose client went away first (nginx's "client closed request"). */
const CLIENT_CLOSED = 499;

type Route = (ctx: RouteContext, body: unknown) => Promise<void>;

const POST_ROUTES = new Map<string, { label: string; handle: Route }>([
  ["/v1/chat/completions", { label: "chat/completions", handle: chatCompletions }],
  ["/v1/completions", { label: "completions", handle: completions }],
  ["/v1/embeddings", { label: "embeddings", handle: embeddings }],
  ["/tokenize", { label: "tokenize", handle: tokenize }],
  ["/detokenize", { label: "detokenize", handle: detokenize }],
  ["/apply-template", { label: "apply-template", handle: applyTemplate }],
]);
const GET_ROUTES = new Set(["/health", "/v1/models", "/metrics"]);

export interface LlamaServerRuntime {
  /** Where the JSON log lines go (default: stdout). */
  log?: (line: string) => void;
}

export interface RunningLlamaServer {
  /** `http://host:port`, without `/v1`. */
  readonly url: string;
  readonly port: number;
  readonly options: LlamaServerOptions;
  /** The model id it serves. */
  readonly modelId: string;
  /** Resolves once the model is loaded and `/health` answers 200; rejects if loading failed. */
  readonly ready: Promise<void>;
  isReady(): boolean;
  /** The loaded engine (after `ready`). */
  engine(): LlamaEngine | undefined;
  metrics(): MetricsSnapshot;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export class LlamaServerListenError extends Error {
  constructor(
    readonly address: string,
    readonly code: string | undefined,
  ) {
    super(
      code === "EADDRINUSE"
        ? `${address} is already in use; pick another with --port`
        : `cannot listen on ${address} (${code ?? "unknown error"})`,
    );
    this.name = "LlamaServerListenError";
  }
}

/** The id clients name: `--alias`, else the generated model's name or the file's name without `.gguf`. */
export function defaultModelId(model: string): string {
  const generated = parseGeneratedModelRef(model);
  if (generated) return model.slice("generated:".length);
  return path.basename(model).replace(/\.gguf$/i, "");
}

function keyMatches(header: string | undefined, key: Buffer): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const sent = Buffer.from(header.slice("Bearer ".length));
  return sent.length === key.length && timingSafeEqual(sent, key);
}

/**
 * Start the llama.cpp engine server: it listens at once (`/health` answers 503 while the model
 * loads) and serves OpenAI's chat, completions and embeddings routes from a real llama.cpp.
 */
export async function startLlamaServer(
  input: LlamaServerOptionsInput,
  runtime: LlamaServerRuntime = {},
): Promise<RunningLlamaServer> {
  const options = parseLlamaServerOptions(input);
  const modelId = options.alias ?? defaultModelId(options.model);
  const write = runtime.log ?? ((line: string) => process.stdout.write(line));
  const log = (level: "debug" | "info" | "warn" | "error", msg: string, fields: Record<string, unknown> = {}) => {
    if (options.logLevel === "silent" || (level === "debug" && options.logLevel !== "debug")) return;
    const line = { level, time: new Date().toISOString(), msg, engine: "llama.cpp", model: modelId, ...fields };
    write(`${JSON.stringify(line)}\n`);
  };
  const startedAt = Date.now();
  const key = options.apiKey ? Buffer.from(options.apiKey) : undefined;
  let engine: LlamaEngine | undefined;
  let closing = false;
  const metrics = new ServerMetrics(() => ({
    counters: engine?.counters ?? {
      promptTokens: 0,
      promptSeconds: 0,
      predictedTokens: 0,
      predictedSeconds: 0,
      cancelled: 0,
    },
    slotsInUse: engine?.slots.inUse ?? 0,
    slotsTotal: options.parallel,
    queueDepth: engine?.slots.queueDepth ?? 0,
  }));

  const loading = () =>
    apiError(
      "model_not_ready",
      { model: modelId, state: "loading", detail: " (llama.cpp is loading the weights)", retryAfter: 1 },
      { retryAfter: 1 },
    );

  const modelList = async (loaded: LlamaEngine) => {
    const about = await loaded.describe();
    return {
      object: "list",
      data: [
        {
          id: modelId,
          object: "model",
          created: Math.floor(startedAt / 1000),
          owned_by: "llamacpp",
          max_model_len: loaded.contextSize,
          meta: {
            engine: "llama.cpp",
            llama_cpp: about.llamaCpp,
            node_llama_cpp: about.nodeLlamaCpp,
            backend: about.gpu,
            file: loaded.fileName,
            n_ctx: loaded.contextSize,
            n_ctx_train: loaded.model.trainContextSize,
            n_embd: loaded.embeddingLength,
            n_vocab: loaded.vocabularySize,
            size: loaded.model.size,
            parallel: options.parallel,
          },
        },
      ],
    };
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const route = q < 0 ? url : url.slice(0, q);
    const post = POST_ROUTES.get(route);
    const abort = new AbortController();
    try {
      if (!post && !GET_ROUTES.has(route))
        throw apiError("route_not_found", { method: req.method ?? "GET", path: route });
      if (route !== "/health" && key && !keyMatches(req.headers.authorization, key)) {
        throw apiError("invalid_api_key", { reason: "this model server takes only the key it was started with" });
      }
      if (post ? req.method !== "POST" : req.method !== "GET" && req.method !== "HEAD") {
        const allowed = post ? "POST" : "GET";
        throw apiError(
          "method_not_allowed",
          { method: req.method ?? "?", path: route, allowed },
          { headers: { allow: allowed } },
        );
      }
      if (route === "/health") {
        if (!engine) throw loading();
        sendJson(res, 200, { status: "ok" });
        return;
      }
      if (route === "/metrics") {
        const text = metrics.render();
        res.writeHead(200, {
          "content-type": "text/plain; version=0.0.4; charset=utf-8",
          "content-length": Buffer.byteLength(text),
        });
        res.end(text);
        return;
      }
      if (!engine) throw loading();
      if (route === "/v1/models") {
        sendJson(res, 200, await modelList(engine));
        return;
      }
      const body = await readJson(req);
      const handler = post as { label: string; handle: Route };
      const onClose = () => {
        if (!res.writableFinished) abort.abort();
      };
      res.once("close", onClose);
      const began = performance.now();
      try {
        await handler.handle({ engine, modelId, res, signal: abort.signal }, body);
      } finally {
        res.off("close", onClose);
      }
      const status = abort.signal.aborted ? CLIENT_CLOSED : res.statusCode;
      metrics.countRequest(handler.label, status);
      log("debug", "request", { route: handler.label, status, ms: Math.round(performance.now() - began) });
    } catch (error) {
      if (error instanceof SlotWaitAborted) {
        // The client left while its request waited for a sequence: nothing was generated.
        if (engine) engine.counters.cancelled++;
        if (post) metrics.countRequest(post.label, CLIENT_CLOSED);
        return;
      }
      const known = error instanceof SwitchyardError;
      if (!known) log("error", "request failed", { route, error: String((error as Error)?.stack ?? error) });
      const failure = asSwitchyardError(error, "llama.cpp");
      if (post) metrics.countRequest(post.label, failure.status);
      if (res.headersSent) {
        // The answer had begun (a stream): end it with one error event in the same shape.
        if (!res.writableEnded) res.end(`data: ${JSON.stringify(renderError(failure).body)}\n\n`);
        return;
      }
      req.resume();
      sendError(res, failure);
    }
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => void onRequest(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new LlamaServerListenError(`${options.host}:${options.port}`, error.code)),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  log(
    "info",
    "llama.cpp engine server (node-llama-cpp) started; loading the model, /health answers 503 until it is ready",
    {
      url,
      file: options.model,
      parallel: options.parallel,
      gpu: options.gpu,
    },
  );

  const ready = (async () => {
    const loadStarted = performance.now();
    const loaded = await LlamaEngine.load(options, log);
    if (closing) {
      await loaded.close();
      return;
    }
    engine = loaded;
    const about = await loaded.describe();
    log("info", "llama.cpp model loaded: /health answers 200", {
      url,
      file: loaded.file,
      load_ms: Math.round(performance.now() - loadStarted),
      llama_cpp: about.llamaCpp,
      node_llama_cpp: about.nodeLlamaCpp,
      backend: about.gpu,
      ctx: loaded.contextSize,
      parallel: options.parallel,
      n_embd: loaded.embeddingLength,
      chat_template: loaded.usesFileTemplate ? "from the GGUF file" : "node-llama-cpp's default for this model",
    });
  })();
  ready.catch((error) => log("error", "llama.cpp could not load the model", { error: (error as Error).message }));

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await ready.catch(() => {});
      await engine?.close();
      engine = undefined;
    })();
    return closed;
  };

  return {
    url,
    port,
    options,
    modelId,
    ready,
    isReady: () => engine !== undefined,
    engine: () => engine,
    metrics: () => metrics.snapshot(),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The body as JSON, refused with 413 past the limit and 400 when it does not parse. */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (declared > MAX_BODY_BYTES) {
      reject(apiError("payload_too_large", { limit: `${MAX_BODY_BYTES / 1024 / 1024} MB` }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("error", reject);
    req.on("end", () => {
      if (size > MAX_BODY_BYTES) {
        reject(apiError("payload_too_large", { limit: `${MAX_BODY_BYTES / 1024 / 1024} MB` }));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(apiError("invalid_json", { detail: (error as Error).message }));
      }
    });
  });
}
