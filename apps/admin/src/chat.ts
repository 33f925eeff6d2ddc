import { type ChatCompletionRequest, Switchyard, waitForModel } from "@switchyard/sdk";
import { sessionFetch } from "./http";
import { session } from "./session";

/**
 * A streamed chat completion through the OpenAI-compatible API, as the signed-in user, with the
 * SDK (`@switchyard/sdk`, its browser entry): `POST /v1/chat/completions` with `stream: true`,
 * read as server-sent events. A cold model's 503 `model_not_ready` is waited out as its
 * Retry-After says (at least once a minute), then the request is sent again.
 */

/** A piece of a user's message: text, or an image (a data: URL, for vision models). */
export type ContentPart = { type: "text"; text: string } | { type: "image_url"; image_url: { url: string } };

export interface ChatMessage {
  role: "user" | "assistant" | "system";
  content: string | ContentPart[];
}

/** The sampling parameters the Playground sets; absent means the model's default. */
export interface ChatParameters {
  temperature?: number;
  max_tokens?: number;
  top_p?: number;
  stop?: string[];
}

/** The request body the Playground sends (without `stream`), and the one "Copy as" shows. */
export interface ChatRequest extends ChatParameters {
  model: string;
  messages: ChatMessage[];
}

/** What the model is doing while the request waits for it (from the 503 body). */
export interface NotReady {
  state: string;
  queuePosition: number | null;
  etaSeconds: number | null;
  retryAfter: number;
  message: string;
}

export interface StreamHandlers {
  /** Each piece of the answer as it arrives. */
  onDelta(piece: { content?: string; reasoning?: string }): void;
  /** The model is not live yet; the request is sent again after `retryAfter` seconds. */
  onNotReady(status: NotReady): void;
  /** The request was sent (again): waiting for the first token. */
  onSending(): void;
}

/** The API on this origin; the session's access token as the bearer, and a 401 ends the session. */
const api = new Switchyard({
  baseURL: window.location.origin,
  apiKey: async () => (await session.accessToken()) ?? "",
  fetch: sessionFetch,
});

/** The delta fields reasoning models add (vLLM names them `reasoning_content`, others `reasoning`). */
interface Delta {
  content?: string | null;
  reasoning_content?: string | null;
  reasoning?: string | null;
}

export async function streamChat(request: ChatRequest, handlers: StreamHandlers, signal: AbortSignal): Promise<void> {
  const stream = await waitForModel(
    () => {
      handlers.onSending();
      // Each message fits one branch of the request's union of roles (TypeScript cannot split `role` by itself).
      return api.chat.completions.stream(
        { ...request, messages: request.messages as ChatCompletionRequest["messages"] },
        { signal },
      );
    },
    {
      signal,
      // Until the user stops it; the page shows the model's state and counts down meanwhile.
      maxWaitMs: Number.POSITIVE_INFINITY,
      maxIntervalMs: 60_000,
      onWait: (error, { retryInMs }) =>
        handlers.onNotReady({
          state: error.modelState ?? "starting",
          queuePosition: error.queuePosition,
          etaSeconds: error.etaSeconds,
          retryAfter: retryInMs / 1000,
          message: error.message,
        }),
    },
  );
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta as Delta | undefined;
    const reasoning = delta?.reasoning_content ?? delta?.reasoning ?? undefined;
    if (delta?.content || reasoning) {
      handlers.onDelta({
        ...(delta?.content ? { content: delta.content } : {}),
        ...(reasoning ? { reasoning } : {}),
      });
    }
  }
}
