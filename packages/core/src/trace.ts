import { z } from "zod";

/**
 * One request of a demand trace (`switchyard trace export|generate|replay`), a line of JSONL.
 * No prompt or completion content: only when, which model, whose, what kind and how big.
 */
export const TraceRequestSchema = z.strictObject({
  /** When the request arrived (ISO 8601). */
  at: z.iso.datetime({ offset: true }),
  /** The model id as the catalog names it. */
  model: z.string().min(1),
  /** The cluster; the config's default cluster when absent. */
  cluster: z.string().min(1).optional(),
  /** Who sent it (an opaque id: a user id, or a generated name). */
  user: z.string(),
  /** `batch` for a batch's lines, `interactive` for everything else. */
  kind: z.enum(["interactive", "batch"]),
  promptTokens: z.int().min(0).default(0),
  completionTokens: z.int().min(0).default(0),
  /** How long the model worked on it once it reached a live server, if known (ms). */
  durationMs: z.int().min(0).optional(),
  /** Whether it waited for its model to start, and for how long (ms): recorded demand only. */
  waited: z.boolean().optional(),
  waitMs: z.int().min(0).optional(),
});
export type TraceRequest = z.output<typeof TraceRequestSchema>;
export type TraceRequestInput = z.input<typeof TraceRequestSchema>;
