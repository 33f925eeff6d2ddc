import type { ChatParameters } from "./chat";

/**
 * The Playground's parameter fields as typed (strings), read into request parameters and checked
 * against the API's ranges, each field with its own message. An empty field is left out of the
 * request (the model's default).
 */

export interface ParameterFields {
  temperature: string;
  maxTokens: string;
  topP: string;
  stop: string;
}

export const EMPTY_PARAMETERS: ParameterFields = { temperature: "", maxTokens: "", topP: "", stop: "" };

/** The most stop sequences the API takes. */
export const MAX_STOPS = 64;

export interface ReadParameters {
  values: ChatParameters;
  errors: Partial<Record<keyof ParameterFields, string>>;
}

function decimal(text: string): number | null {
  const value = Number(text.trim());
  return text.trim() !== "" && Number.isFinite(value) ? value : null;
}

/**
 * Stop sequences from one field: separated by commas, spaces around each dropped; `\,` is a
 * comma, `\n` a line break and `\t` a tab inside one.
 */
export function parseStops(text: string): string[] {
  const stops: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === "\\" && i + 1 < text.length) {
      const next = text[++i] as string;
      current += next === "n" ? "\n" : next === "t" ? "\t" : next;
    } else if (c === ",") {
      stops.push(current);
      current = "";
    } else {
      current += c;
    }
  }
  stops.push(current);
  // Spaces around the commas are layout; a stop that is a line break (`\n`) stays one.
  return stops.map((s) => s.replace(/^ +| +$/g, "")).filter((s) => s !== "");
}

export function readParameters(fields: ParameterFields): ReadParameters {
  const values: ChatParameters = {};
  const errors: ReadParameters["errors"] = {};
  if (fields.temperature.trim() !== "") {
    const t = decimal(fields.temperature);
    if (t === null || t < 0 || t > 2) errors.temperature = "Temperature is a number from 0 to 2.";
    else values.temperature = t;
  }
  if (fields.maxTokens.trim() !== "") {
    const n = decimal(fields.maxTokens);
    if (n === null || !Number.isInteger(n) || n < 1) errors.maxTokens = "Max tokens is a whole number, 1 or more.";
    else values.max_tokens = n;
  }
  if (fields.topP.trim() !== "") {
    const p = decimal(fields.topP);
    if (p === null || p <= 0 || p > 1) errors.topP = "Top P is a number above 0, up to 1.";
    else values.top_p = p;
  }
  const stops = parseStops(fields.stop);
  if (stops.length > MAX_STOPS) errors.stop = `At most ${MAX_STOPS} stop sequences.`;
  else if (stops.length > 0) values.stop = stops;
  return { values, errors };
}
