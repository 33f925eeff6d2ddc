import { InvalidArgumentError } from "commander";

/** A decimal number as people type it (`2`, `0.7`, `.5`, `1e3`): not `""`, `0x10` or `Infinity`, which `Number()` takes. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

export interface NumberRange {
  /** Lowest allowed value (inclusive, unless `above`). */
  min?: number;
  /** `min` itself is not allowed (top_p: above 0). */
  above?: boolean;
  /** Highest allowed value (inclusive). */
  max?: number;
  /** Whole numbers only. */
  integer?: boolean;
}

function describe(range: NumberRange): string {
  const kind = range.integer ? "a whole number" : "a number";
  const { min, max, above } = range;
  if (min !== undefined && max !== undefined) {
    return above ? `${kind} above ${min} and at most ${max}` : `${kind} from ${min} to ${max}`;
  }
  if (min !== undefined) return above ? `${kind} above ${min}` : `${kind} of ${min} or more`;
  if (max !== undefined) return `${kind} of at most ${max}`;
  return kind;
}

/**
 * An option parser for a number in a range: commander reports what it throws as a usage error
 * (exit 1) naming the option, before the command runs, so nothing is sent to the server.
 */
export function numberIn(range: NumberRange): (value: string) => number {
  return (value: string) => {
    const text = value.trim();
    const n = DECIMAL.test(text) ? Number(text) : Number.NaN;
    const ok =
      Number.isFinite(n) &&
      (!range.integer || Number.isInteger(n)) &&
      (range.min === undefined || (range.above ? n > range.min : n >= range.min)) &&
      (range.max === undefined || n <= range.max);
    if (!ok) throw new InvalidArgumentError(`expected ${describe(range)}.`);
    return n;
  };
}

/** The ranges of `sy`'s numeric options: the API's own (OpenAI's sampling ranges), or the command's. */
export const NUMBERS = {
  /** Seconds between polls, waits. */
  seconds: numberIn({ min: 0, above: true }),
  /** `max_tokens`: the longest answer. */
  maxTokens: numberIn({ min: 1, integer: true }),
  /** `temperature`: OpenAI's range. */
  temperature: numberIn({ min: 0, max: 2 }),
  /** `top_p`: above 0, at most 1. */
  topP: numberIn({ min: 0, above: true, max: 1 }),
  /** A page of batches. */
  limit: numberIn({ min: 1, max: 100, integer: true }),
  /** An API key's lifetime (0: never expires). */
  days: numberIn({ min: 0, max: 3650, integer: true }),
} as const;
