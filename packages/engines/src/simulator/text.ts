import type { Random } from "@switchyard/core";

/**
 * Plausible filler text, generated as tokens of the simulator's tokenizer: every word has at
 * most 8 letters and punctuation stands alone, so each piece produced here is exactly one token.
 */

const WORDS = [
  "lorem",
  "ipsum",
  "dolor",
  "sit",
  "amet",
  "sed",
  "do",
  "eiusmod",
  "tempor",
  "ut",
  "labore",
  "et",
  "dolore",
  "magna",
  "aliqua",
  "enim",
  "ad",
  "minim",
  "veniam",
  "quis",
  "nostrud",
  "ullamco",
  "laboris",
  "nisi",
  "aliquip",
  "ex",
  "ea",
  "commodo",
  "duis",
  "aute",
  "irure",
  "in",
  "velit",
  "esse",
  "cillum",
  "fugiat",
  "nulla",
  "pariatur",
  "sint",
  "occaecat",
  "culpa",
  "qui",
  "officia",
  "deserunt",
  "mollit",
  "anim",
  "id",
  "est",
  "laborum",
  "sunt",
  "non",
  "proident",
  "integer",
  "vitae",
  "justo",
  "eget",
  "magnis",
  "natoque",
  "felis",
  "rhoncus",
] as const;

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** Sentences of lorem words, one token at a time. */
export class LoremStream {
  private wordsLeft = 0;
  private periodPending = false;
  private lastWasComma = false;

  /** `started`: the text follows a finished sentence, so the first word gets a leading space. */
  constructor(
    private readonly random: Random,
    private started = false,
  ) {}

  next(): string {
    if (this.periodPending) {
      this.periodPending = false;
      return ".";
    }
    if (this.wordsLeft === 0) {
      this.wordsLeft = this.random.int(5, 14);
      const word = capitalize(this.random.pick(WORDS));
      const piece = this.started ? ` ${word}` : word;
      this.started = true;
      return this.word(piece);
    }
    if (!this.lastWasComma && this.wordsLeft > 1 && this.random.next() < 0.08) {
      this.lastWasComma = true;
      return ",";
    }
    return this.word(` ${this.random.pick(WORDS)}`);
  }

  private word(piece: string): string {
    this.lastWasComma = false;
    this.wordsLeft--;
    if (this.wordsLeft === 0) this.periodPending = true;
    return piece;
  }

  take(count: number): string[] {
    const out: string[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = this.next();
    return out;
  }
}

const REASONING_LEAD = ["Okay", ",", " let", " me", " think", " about", " this", "."];

/** A short, deterministic chain of thought for reasoning models: a fixed lead-in, then lorem. */
export function reasoningPieces(random: Random, count: number): string[] {
  if (count <= REASONING_LEAD.length) return REASONING_LEAD.slice(0, count);
  return [...REASONING_LEAD, ...new LoremStream(random, true).take(count - REASONING_LEAD.length)];
}

/** Deterministic arguments for a JSON-schema `parameters` object: a value for each required property. */
export function toolArguments(parameters: unknown, random: Random): Record<string, unknown> {
  return objectFor(asObject(parameters), random, 0);
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function objectFor(schema: Record<string, unknown>, random: Random, depth: number): Record<string, unknown> {
  const properties = asObject(schema.properties);
  const required = Array.isArray(schema.required) ? schema.required.filter((k) => typeof k === "string") : [];
  const out: Record<string, unknown> = {};
  for (const name of required) out[name] = valueFor(asObject(properties[name]), random, depth);
  return out;
}

function valueFor(schema: Record<string, unknown>, random: Random, depth: number): unknown {
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return random.pick(schema.enum);
  if ("const" in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "number":
      return Math.round(random.next() * 1000) / 10;
    case "integer":
      return random.int(1, 100);
    case "boolean":
      return random.next() < 0.5;
    case "array":
      return [];
    case "object":
      return depth < 3 ? objectFor(schema, random, depth + 1) : {};
    case "null":
      return null;
    default:
      return `${random.pick(WORDS)} ${random.pick(WORDS)}`;
  }
}
