import { z } from "zod";

/**
 * What a model can do. The reference service marks B (batch), T (tools), R (reasoning);
 * chat, completions, embedding and vision say which endpoints and inputs it takes.
 */
export const CAPABILITIES = ["chat", "completions", "embedding", "vision", "batch", "tools", "reasoning"] as const;
export const CapabilitySchema = z.enum(CAPABILITIES);
export type Capability = z.infer<typeof CapabilitySchema>;

/** The reference service's one-letter marks. */
export const CAPABILITY_MARKS: Partial<Record<Capability, string>> = { batch: "B", tools: "T", reasoning: "R" };

/** The OpenAI-style endpoints a framework can expose. */
export const ENDPOINTS = ["chat/completions", "completions", "embeddings", "responses", "messages", "batches"] as const;
export const EndpointSchema = z.enum(ENDPOINTS);
export type Endpoint = z.infer<typeof EndpointSchema>;

/** The capability a model needs to be reached through an endpoint. */
export const ENDPOINT_CAPABILITY: Readonly<Record<Endpoint, Capability>> = {
  "chat/completions": "chat",
  completions: "completions",
  embeddings: "embedding",
  responses: "chat",
  messages: "chat",
  batches: "batch",
};
