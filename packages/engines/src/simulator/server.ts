import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mixSeed, Random } from "@switchyard/core";
import { type Answer, idSource, type SimulatorContext } from "./answer";
import { deliver } from "./deliver";
import { anthropicErrorBody, openAIErrorBody, SimulatorHttpError } from "./errors";
import { SimulatorMetrics, type SimulatorMetricsSnapshot } from "./metrics";
import { parseSimulatorOptions, type SimulatorOptions, type SimulatorOptionsInput } from "./options";
import { chatAnswer } from "./routes/chat";
import { completionAnswer } from "./routes/completions";
import { embeddingAnswer } from "./routes/embeddings";
import { messagesAnswer } from "./routes/messages";
import { modelListBody } from "./routes/models";
import { responsesAnswer } from "./routes/responses";
import { SequenceSlots, type Waiter } from "./slots";

/** The exit code of a simulated crash (EX_SOFTWARE), so a supervisor sees a real failure. */
export const CRASH_EXIT_CODE = 70;

/** Requests above this are refused with 413 (vLLM has no limit; 32 MiB keeps a bad client from eating memory). */
const MAX_BODY_BYTES = 32 * 1024 * 1024;

const SIMULATOR_HEADER = "x-switchyard-simulator";

export interface SimulatorRuntime {
  /** Where the JSON log lines go (default: stdout). */
  log?: (line: string) => void;
  /**
   * Called instead of exiting the process when an injected crash fires (for running the
   * simulator inside a test process). The server has already dropped every connection.
   */
  onCrash?: (reason: string) => void;
}

export interface RunningSimulator {
  /** `http://host:port`, without `/v1`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly options: SimulatorOptions;
  /** True once the simulated load time has passed. */
  isReady(): boolean;
  /** Resolves when the simulated load time has passed. */
  readonly ready: Promise<void>;
  /** Sequences generating now. */
  inFlight(): number;
  /** Requests waiting for a free sequence slot. */
  queueDepth(): number;
  metrics(): SimulatorMetricsSnapshot;
  /** The Prometheus text `GET /metrics` serves. */
  metricsText(): string;
  /** Stop listening and drop every connection (in-flight requests count as cancelled). */
  close(): Promise<void>;
  /** `await using sim = await startSimulator(...)` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void>;
}

export class SimulatorListenError extends Error {
  constructor(
    readonly address: string,
    readonly code: string | undefined,
  ) {
    super(
      code === "EADDRINUSE"
        ? `${address} is already in use; pick another with --port`
        : `cannot listen on ${address} (${code ?? "unknown error"})`,
    );
    this.name = "SimulatorListenError";
  }
}

interface InferenceRoute {
  /** Label in metrics and logs. */
  label: string;
  answer: (ctx: SimulatorContext, raw: unknown) => Answer;
  errorBody: (error: SimulatorHttpError) => string;
}

const INFERENCE_ROUTES = new Map<string, InferenceRoute>([
  ["/v1/chat/completions", { label: "chat/completions", answer: chatAnswer, errorBody: openAIErrorBody }],
  ["/v1/completions", { label: "completions", answer: completionAnswer, errorBody: openAIErrorBody }],
  ["/v1/embeddings", { label: "embeddings", answer: embeddingAnswer, errorBody: openAIErrorBody }],
  ["/v1/responses", { label: "responses", answer: responsesAnswer, errorBody: openAIErrorBody }],
  ["/v1/messages", { label: "messages", answer: messagesAnswer, errorBody: anthropicErrorBody }],
]);

/** Status recorded for a request whose client went away first (nginx's "client closed request"). */
const CLIENT_CLOSED = 499;

/**
 * Start the simulator: an OpenAI-compatible model server with no model behind it. It answers
 * with generated lorem text paced like a real server (or at once with the `fast` profile).
 */
export async function startSimulator(
  input: SimulatorOptionsInput,
  runtime: SimulatorRuntime = {},
): Promise<RunningSimulator> {
  const options = parseSimulatorOptions(input);
  const write = runtime.log ?? ((line: string) => process.stdout.write(line));
  const debug = options.logLevel === "debug";
  const log = (level: "debug" | "info" | "error", msg: string, fields: Record<string, unknown> = {}) => {
    if (options.logLevel === "silent" || (level === "debug" && !debug)) return;
    write(
      `${JSON.stringify({ level, time: new Date().toISOString(), msg, simulator: true, model: options.model, ...fields })}\n`,
    );
  };

  const ctx: SimulatorContext = { options, capabilities: new Set(options.capabilities), newId: idSource() };
  const slots = new SequenceSlots(options.maxConcurrency);
  const metrics = new SimulatorMetrics(options.model, () => ({
    inFlight: slots.inFlight,
    queueDepth: slots.queueDepth,
  }));
  const failures = new Random(mixSeed(options.seed, 0x6661696c)); // one draw per inference request, in arrival order
  const fast = options.profile === "fast";
  const ttftMs = options.timeToFirstToken * 1000;
  const tokenMs = 1000 / options.tokensPerSecond;
  const startedAt = Date.now();
  const timers = new Set<NodeJS.Timeout>();
  let loaded = options.loadTime <= 0;
  let served = 0;
  let crashed = false;
  /** Inference requests taken so far, and when a hang (`hangAfterRequests`) began. */
  let taken = 0;
  let hangingSince: number | undefined;
  /** Whether this inference request is swallowed by a hang (counting it as taken). */
  const hangs = (): boolean => {
    const after = options.hangAfterRequests;
    if (after === undefined) return false;
    if (hangingSince !== undefined) {
      if (options.hangFor === undefined || Date.now() - hangingSince < options.hangFor * 1000) return true;
      return false; // over: it answers again, and does not hang a second time
    }
    if (taken++ < after) return false;
    hangingSince = Date.now();
    log("info", `hanging: inference requests are no longer answered (--hang-after-requests ${after})`);
    return true;
  };
  let closing = false;

  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });

  // ---- responses -----------------------------------------------------------------------

  const sendJson = (res: ServerResponse, status: number, body: string, headers?: Record<string, string>) => {
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      [SIMULATOR_HEADER]: "1",
      ...headers,
    });
    res.end(body);
  };

  const sendText = (res: ServerResponse, status: number, contentType: string, body: string) => {
    res.writeHead(status, {
      "content-type": contentType,
      "content-length": Buffer.byteLength(body),
      [SIMULATOR_HEADER]: "1",
    });
    res.end(body);
  };

  const sendError = (res: ServerResponse, route: InferenceRoute | undefined, error: SimulatorHttpError) => {
    const retry = error.status === 429 || error.status === 503 ? { "retry-after": "1" } : undefined;
    sendJson(res, error.status, (route?.errorBody ?? openAIErrorBody)(error), { ...retry, ...error.headers });
  };

  const loadingError = () => {
    const left = Math.max(0, options.loadTime - (Date.now() - startedAt) / 1000);
    return new SimulatorHttpError(
      503,
      `The model ${options.model} is still loading (simulated load time ${options.loadTime}s, about ${Math.ceil(left)}s left).`,
    );
  };

  // ---- crash injection -----------------------------------------------------------------

  const crash = (reason: string) => {
    if (crashed) return;
    crashed = true;
    log("error", `simulated crash: ${reason}`, { exit_code: CRASH_EXIT_CODE });
    if (runtime.onCrash) {
      stopEverything();
      runtime.onCrash(reason);
      return;
    }
    process.exit(CRASH_EXIT_CODE);
  };

  /** After an inference request was answered (whatever the status), once its bytes are handed to the OS. */
  const countServed = (res: ServerResponse) => {
    const limit = options.crashAfterRequests;
    if (limit === undefined) return;
    res.once("finish", () => {
      served++;
      if (served >= limit) crash(`${served} request(s) answered (--crash-after-requests ${limit})`);
    });
  };

  // ---- generation ----------------------------------------------------------------------

  const finished = (route: InferenceRoute, status: number, began: number) => {
    slots.release();
    metrics.countRequest(route.label, status);
    if (debug) log("debug", "request", { route: route.label, status, ms: Date.now() - began });
  };

  const cancelled = (route: InferenceRoute, began: number, where: string) => {
    metrics.cancelled++;
    metrics.countRequest(route.label, CLIENT_CLOSED);
    if (debug) log("debug", "request cancelled", { route: route.label, where, ms: Date.now() - began });
  };

  /** Runs holding a sequence slot; releases it when the answer is sent or the client leaves. */
  const generate = (res: ServerResponse, route: InferenceRoute, answer: Answer, began: number) => {
    if (res.destroyed || closing) {
      slots.release();
      cancelled(route, began, "before start");
      return;
    }
    deliver(res, answer, {
      fast,
      ttftMs,
      tokenMs,
      timers,
      sendJson: (body) => sendJson(res, 200, body),
      generated: (tokens) => {
        metrics.generatedTokens += tokens;
      },
      finished: () => finished(route, 200, began),
      cancelled: (where) => {
        slots.release();
        cancelled(route, began, where);
      },
    });
  };

  const handleInference = (res: ServerResponse, route: InferenceRoute, raw: Buffer, began: number) => {
    if (!loaded) {
      sendError(res, route, loadingError());
      metrics.countRequest(route.label, 503);
      return;
    }
    if (hangs()) {
      // Stuck: the request is taken and never answered; the client's timeout ends it.
      if (debug) log("debug", "request swallowed (hanging)", { route: route.label });
      return;
    }
    countServed(res);
    if (options.failRate > 0 && failures.next() < options.failRate) {
      const status = options.failStatus;
      sendError(res, route, new SimulatorHttpError(status, `Simulated failure (fail rate ${options.failRate}).`));
      metrics.countRequest(route.label, status);
      return;
    }
    let answer: Answer;
    try {
      answer = route.answer(ctx, JSON.parse(raw.toString("utf8")));
    } catch (error) {
      const known =
        error instanceof SimulatorHttpError
          ? error
          : error instanceof SyntaxError
            ? new SimulatorHttpError(400, `The request body is not valid JSON: ${error.message}`)
            : undefined;
      if (!known) {
        log("error", "request failed", { route: route.label, error: String((error as Error)?.stack ?? error) });
      }
      const sent = known ?? new SimulatorHttpError(500, "Internal error in the simulator; see its log.");
      sendError(res, route, sent);
      metrics.countRequest(route.label, sent.status);
      return;
    }
    metrics.promptTokens += answer.promptTokens;
    if (slots.tryAcquire()) {
      generate(res, route, answer, began);
      return;
    }
    const waiter: Waiter = {
      start: () => {
        res.off("close", onQueuedClose);
        generate(res, route, answer, began);
      },
    };
    const onQueuedClose = () => {
      if (slots.cancel(waiter)) cancelled(route, began, "queued");
    };
    res.once("close", onQueuedClose);
    slots.enqueue(waiter);
  };

  // ---- routing -------------------------------------------------------------------------

  const expectedAuthorization = options.apiKey ? Buffer.from(`Bearer ${options.apiKey}`) : undefined;
  const authorized = (header: string | undefined): boolean => {
    if (!expectedAuthorization) return true;
    const given = Buffer.from(header ?? "");
    return given.length === expectedAuthorization.length && timingSafeEqual(given, expectedAuthorization);
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const route = INFERENCE_ROUTES.get(path);
    if (path.startsWith("/v1/") && !authorized(req.headers.authorization)) {
      req.resume();
      sendError(res, route, new SimulatorHttpError(401, "Unauthorized: this server wants its API key."));
      return;
    }
    if (route) {
      if (req.method !== "POST") {
        sendError(res, route, new SimulatorHttpError(405, "Method Not Allowed", null, { allow: "POST" }));
        return;
      }
      const began = debug ? Date.now() : 0;
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      req.on("end", () => {
        if (size > MAX_BODY_BYTES) {
          sendError(
            res,
            route,
            new SimulatorHttpError(413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`),
          );
          return;
        }
        handleInference(res, route, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks), began);
      });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      const known = path === "/health" || path === "/v1/models" || path === "/metrics";
      const error = known
        ? new SimulatorHttpError(405, "Method Not Allowed", null, { allow: "GET" })
        : new SimulatorHttpError(404, "Not Found");
      sendError(res, undefined, error);
      return;
    }
    switch (path) {
      case "/health":
        if (loaded) sendJson(res, 200, '{"status":"ok"}');
        else sendError(res, undefined, loadingError());
        return;
      case "/v1/models":
        if (loaded) sendJson(res, 200, modelListBody(options, startedAt));
        else sendError(res, undefined, loadingError());
        return;
      case "/metrics":
        sendText(res, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render());
        return;
      default:
        sendError(res, undefined, new SimulatorHttpError(404, "Not Found"));
    }
  };

  // ---- lifecycle -----------------------------------------------------------------------

  const server = createServer({ keepAliveTimeout: 65_000 }, onRequest);
  const stopEverything = () => {
    closing = true;
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    server.close();
    server.closeAllConnections();
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new SimulatorListenError(`${options.host}:${options.port}`, error.code)),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;

  log(
    "info",
    "Switchyard simulator started: a stand-in model server with NO real model behind it (answers are generated lorem text)",
    {
      url,
      capabilities: options.capabilities,
      profile: options.profile,
      load_time_s: options.loadTime,
      max_model_len: options.maxModelLen,
      max_concurrency: options.maxConcurrency,
    },
  );
  const becomeReady = () => {
    loaded = true;
    log("info", "simulator ready: /health answers 200", { url, load_time_s: options.loadTime });
    markReady();
  };
  if (loaded) becomeReady();
  else {
    const timer = setTimeout(() => {
      timers.delete(timer);
      becomeReady();
    }, options.loadTime * 1000);
    timers.add(timer);
  }
  if (options.crashAfter !== undefined) {
    const seconds = options.crashAfter;
    const timer = setTimeout(() => crash(`${seconds}s after start (--crash-after)`), seconds * 1000);
    timers.add(timer);
  }

  const close = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) {
        stopEverything();
        resolve();
        return;
      }
      server.once("close", () => resolve());
      stopEverything();
    });

  return {
    url,
    host: options.host,
    port,
    options,
    isReady: () => loaded,
    ready,
    inFlight: () => slots.inFlight,
    queueDepth: () => slots.queueDepth,
    metrics: () => metrics.snapshot(),
    metricsText: () => metrics.render(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
