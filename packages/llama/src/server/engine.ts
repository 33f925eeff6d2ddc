import path from "node:path";
import {
  type ChatHistoryItem,
  type ChatWrapper,
  getLlama,
  getModuleVersion,
  JinjaTemplateChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  LlamaLogLevel,
  type LlamaModel,
  resolveChatWrapper,
  type Token,
} from "node-llama-cpp";
import { resolveModelFile } from "../gguf/models";
import type { LlamaServerOptions } from "./options";
import { SlotPool } from "./slots";
import { StopMatcher } from "./stop";

/** Most the context window is (without --ctx) unless the model was trained on less: keeps memory small. */
const DEFAULT_MAX_CONTEXT = 4096;

export type FinishReason = "stop" | "length";

export interface SamplingParams {
  maxTokens: number;
  temperature: number;
  topP: number;
  /** 0: every token (as OpenAI samples); vLLM's and llama-server's `top_k` extension. */
  topK: number;
  /** A 32-bit seed; the same seed and prompt give the same answer. */
  seed: number;
  stop: readonly string[];
  /** Generate on past end-of-generation tokens (vLLM's `ignore_eos`): exactly `maxTokens` tokens. */
  ignoreEos: boolean;
}

export interface Generation {
  text: string;
  completionTokens: number;
  finishReason: FinishReason;
}

/** Counters behind `/metrics`, as llama-server keeps them. */
export interface EngineCounters {
  promptTokens: number;
  promptSeconds: number;
  predictedTokens: number;
  predictedSeconds: number;
  cancelled: number;
}

/** The llama.cpp build could not be loaded (no prebuilt binary for this machine or GPU). */
export class EngineLoadError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EngineLoadError";
  }
}

export type EngineLog = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** A loaded model with its sequences: everything the HTTP routes ask of llama.cpp. */
export class LlamaEngine {
  readonly counters: EngineCounters = {
    promptTokens: 0,
    promptSeconds: 0,
    predictedTokens: 0,
    predictedSeconds: 0,
    cancelled: 0,
  };
  private embeddingContext: Promise<LlamaEmbeddingContext> | undefined;

  private constructor(
    readonly llama: Llama,
    readonly model: LlamaModel,
    readonly context: LlamaContext,
    readonly slots: SlotPool<LlamaContextSequence>,
    readonly chatWrapper: ChatWrapper,
    /** True when the chat template is the GGUF's own (`tokenizer.chat_template`). */
    readonly usesFileTemplate: boolean,
    readonly file: string,
    private readonly threads: number | undefined,
  ) {}

  static async load(options: LlamaServerOptions, log: EngineLog): Promise<LlamaEngine> {
    const file = resolveModelFile(options.model, options.cacheDir);
    let llama: Llama;
    try {
      llama = await getLlama({
        gpu: options.gpu === "none" ? false : options.gpu,
        // Only the prebuilt binaries from npm: never download or compile llama.cpp at run time.
        build: "never",
        progressLogs: false,
        logLevel: options.logLevel === "debug" ? LlamaLogLevel.warn : LlamaLogLevel.error,
        logger: (level, message) => {
          const text = message.trim();
          if (text) log(level === LlamaLogLevel.error || level === LlamaLogLevel.fatal ? "error" : "warn", text);
        },
        ...(options.threads === undefined ? {} : { maxThreads: options.threads }),
      });
    } catch (error) {
      const wanted = options.gpu === "cuda" ? "the CUDA build" : "a build for this machine";
      throw new EngineLoadError(
        `cannot load llama.cpp: ${wanted} of node-llama-cpp is not installed (${(error as Error).message}). ` +
          "CUDA builds are an opt-in install; see the README's 'A real engine' section.",
        { cause: error },
      );
    }
    const model = await llama.loadModel({ modelPath: file, ...(options.gpu === "none" ? { gpuLayers: 0 } : {}) });
    const ctx = options.ctx ?? Math.min(model.trainContextSize, DEFAULT_MAX_CONTEXT);
    const context = await model.createContext({
      sequences: options.parallel,
      contextSize: ctx,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    });
    const sequences: LlamaContextSequence[] = [];
    for (let i = 0; i < options.parallel; i++) sequences.push(context.getSequence());
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    const chatWrapper =
      typeof template === "string" && template.length > 0
        ? new JinjaTemplateChatWrapper({ template, tokenizer: model.tokenizer })
        : resolveChatWrapper(model);
    const engine = new LlamaEngine(
      llama,
      model,
      context,
      new SlotPool(sequences),
      chatWrapper,
      typeof template === "string" && template.length > 0,
      file,
      options.threads,
    );
    if (engine.isEmbeddingModel) await engine.embeddings();
    return engine;
  }

  /** `node-llama-cpp 3.22.1 (llama.cpp b6xxx), CPU` for logs and /v1/models. */
  async describe(): Promise<{ nodeLlamaCpp: string; llamaCpp: string; gpu: string }> {
    return {
      nodeLlamaCpp: await getModuleVersion(),
      llamaCpp: this.llama.llamaCppRelease.release,
      gpu: this.llama.gpu === false ? "cpu" : this.llama.gpu,
    };
  }

  get contextSize(): number {
    return this.context.contextSize;
  }

  get embeddingLength(): number {
    return this.model.embeddingVectorSize;
  }

  get fileName(): string {
    return path.basename(this.file);
  }

  /** A model made for embeddings declares how it pools token vectors into one. */
  get isEmbeddingModel(): boolean {
    const metadata = this.model.fileInfo.metadata as unknown as Record<string, { pooling_type?: unknown } | undefined>;
    const architecture = this.model.fileInfo.metadata.general.architecture;
    return typeof metadata[architecture]?.pooling_type === "number" && metadata[architecture].pooling_type !== 0;
  }

  /** The prompt tokens of a conversation, rendered with the chat template. */
  chatPrompt(history: ChatHistoryItem[]): { tokens: Token[]; stops: string[] } {
    const state = this.chatWrapper.generateContextState({
      chatHistory: [...history, { type: "model", response: [] }],
    });
    const stops: string[] = [];
    for (const trigger of state.stopGenerationTriggers) {
      // Special-token triggers (end of turn) already end generation as llama.cpp's end-of-generation tokens.
      if (trigger.values.every((value) => typeof value === "string")) stops.push(trigger.values.join(""));
    }
    return { tokens: state.contextText.tokenize(this.model.tokenizer), stops: stops.filter(Boolean) };
  }

  /** The prompt tokens of a completion: BOS (when the model wants one) and the text. */
  completionPrompt(prompt: string | readonly number[]): Token[] {
    const tokens = typeof prompt === "string" ? this.model.tokenize(prompt, false) : (prompt as Token[]);
    const bos = this.model.tokens.bos;
    if (this.model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) return [bos, ...tokens];
    return [...tokens];
  }

  tokenize(text: string, special: boolean): Token[] {
    return this.model.tokenize(text, special);
  }

  detokenize(tokens: readonly number[], special = false): string {
    return this.model.detokenize(tokens as Token[], special);
  }

  get vocabularySize(): number {
    return this.model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
  }

  /**
   * Generate on a free sequence (waiting for one if all are busy). `onText` gets the answer
   * piece by piece as it is generated; aborting `signal` stops generation at once.
   */
  async generate(
    prompt: readonly Token[],
    params: SamplingParams,
    signal: AbortSignal,
    onText: (text: string) => void | Promise<void>,
  ): Promise<Generation> {
    const sequence = await this.slots.acquire(signal);
    const started = performance.now();
    let firstTokenAt: number | undefined;
    let completionTokens = 0;
    let text = "";
    let finishReason: FinishReason = "stop";
    const stop = new StopMatcher(params.stop);
    const generated: Token[] = [];
    let pending: Token[] = [];
    const emit = async (piece: string) => {
      if (!piece) return;
      text += piece;
      await onText(piece);
    };
    try {
      await sequence.clearHistory();
      const iterator = sequence.evaluate([...prompt], {
        temperature: params.temperature,
        topP: params.topP,
        topK: params.topK,
        seed: params.seed,
        yieldEogToken: params.ignoreEos,
      });
      if (params.maxTokens === 0) finishReason = "length";
      else {
        for await (const token of iterator) {
          if (firstTokenAt === undefined) firstTokenAt = performance.now();
          completionTokens++;
          generated.push(token);
          pending.push(token);
          // A piece ending in an incomplete UTF-8 character waits for the token that completes it.
          const piece = this.model.detokenize(pending, false, generated.slice(0, generated.length - pending.length));
          if (!piece.endsWith("\uFFFD")) {
            pending = [];
            await emit(stop.push(piece));
          }
          if (stop.stopped || signal.aborted) break;
          if (completionTokens >= params.maxTokens) {
            finishReason = "length";
            break;
          }
        }
      }
      if (!stop.stopped && !signal.aborted) {
        if (pending.length > 0) await emit(stop.push(this.model.detokenize(pending, false)));
        await emit(stop.flush());
      }
      if (stop.stopped) finishReason = "stop";
    } finally {
      const ended = performance.now();
      const promptDone = firstTokenAt ?? ended;
      this.counters.promptTokens += prompt.length;
      this.counters.promptSeconds += (promptDone - started) / 1000;
      this.counters.predictedTokens += completionTokens;
      this.counters.predictedSeconds += (ended - promptDone) / 1000;
      if (signal.aborted) this.counters.cancelled++;
      this.slots.release(sequence);
    }
    return { text, completionTokens, finishReason };
  }

  /** The embedding context, created on first use (at start for an embedding model). */
  embeddings(): Promise<LlamaEmbeddingContext> {
    this.embeddingContext ??= this.model.createEmbeddingContext({
      contextSize: Math.min(this.contextSize, this.model.trainContextSize),
      ...(this.threads === undefined ? {} : { threads: this.threads }),
    });
    return this.embeddingContext;
  }

  /** One L2-normalised vector per input, and the tokens evaluated for each. */
  async embed(input: string | readonly number[]): Promise<{ vector: Float32Array; tokens: number }> {
    const context = await this.embeddings();
    const tokens = context.calculateInputLength(typeof input === "string" ? input : (input as Token[]));
    const started = performance.now();
    const embedding = await context.getEmbeddingFor(typeof input === "string" ? input : (input as Token[]));
    this.counters.promptTokens += tokens;
    this.counters.promptSeconds += (performance.now() - started) / 1000;
    const vector = Float32Array.from(embedding.vector);
    let norm = 0;
    for (const value of vector) norm += value * value;
    norm = Math.sqrt(norm);
    if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
    return { vector, tokens };
  }

  /** Tokens that fit an embedding input (the embedding context's window). */
  get embeddingContextSize(): number {
    return Math.min(this.contextSize, this.model.trainContextSize);
  }

  async close(): Promise<void> {
    await this.context.dispose();
    if (this.embeddingContext) await (await this.embeddingContext).dispose();
    await this.model.dispose();
    await this.llama.dispose();
  }
}
