import {
  type Capability,
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  EmbeddingRequestSchema,
  type Endpoint,
  MessagesRequestSchema,
  ResponsesRequestSchema,
} from "@switchyard/core";
import type { z } from "zod";

/** The inference APIs the gateway proxies, each with its request schema and what it needs of a model. */
export type ApiKind = "chat" | "completions" | "embeddings" | "responses" | "messages";

export interface KindSpec {
  kind: ApiKind;
  /** Path under `/v1/`. */
  path: string;
  /** The model server's path (`/v1/` + path). */
  upstreamPath: string;
  endpoint: Endpoint;
  schema: z.ZodType;
  capability: Capability;
  /** How a capability reads in messages ("chat completions", "embeddings"). */
  label: string;
  /** Whether `stream: true` is answered as server-sent events. */
  streams: boolean;
}

export const KINDS: Record<ApiKind, KindSpec> = {
  chat: {
    kind: "chat",
    path: "chat/completions",
    upstreamPath: "/v1/chat/completions",
    endpoint: "chat/completions",
    schema: ChatCompletionRequestSchema,
    capability: "chat",
    label: "chat completions",
    streams: true,
  },
  completions: {
    kind: "completions",
    path: "completions",
    upstreamPath: "/v1/completions",
    endpoint: "completions",
    schema: CompletionRequestSchema,
    capability: "completions",
    label: "text completions",
    streams: true,
  },
  embeddings: {
    kind: "embeddings",
    path: "embeddings",
    upstreamPath: "/v1/embeddings",
    endpoint: "embeddings",
    schema: EmbeddingRequestSchema,
    capability: "embedding",
    label: "embeddings",
    streams: false,
  },
  responses: {
    kind: "responses",
    path: "responses",
    upstreamPath: "/v1/responses",
    endpoint: "responses",
    schema: ResponsesRequestSchema,
    capability: "chat",
    label: "the Responses API",
    streams: true,
  },
  messages: {
    kind: "messages",
    path: "messages",
    upstreamPath: "/v1/messages",
    endpoint: "messages",
    schema: MessagesRequestSchema,
    capability: "chat",
    label: "the Messages API",
    streams: true,
  },
};
