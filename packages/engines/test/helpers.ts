import OpenAI from "openai";
import { type RunningSimulator, type SimulatorOptionsInput, type SimulatorRuntime, startSimulator } from "../src";

export const MODEL = "acme/sim-7b";

/** A simulator on an ephemeral port: quiet, and `fast` unless a test asks for pacing. */
export function simulator(options: Partial<SimulatorOptionsInput> = {}, runtime?: SimulatorRuntime) {
  return startSimulator({ model: MODEL, logLevel: "silent", profile: "fast", ...options }, runtime);
}

/** The official client, pointed at a simulator; no retries so injected failures are seen as they are. */
export function openai(sim: RunningSimulator): OpenAI {
  return new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: "not-checked", maxRetries: 0 });
}

export function post(sim: RunningSimulator, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${sim.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

export interface SseEvent {
  event: string | undefined;
  data: string;
  /** ms since the request was sent */
  at: number;
}

/** Read a server-sent-events response, noting when each event arrived. */
export async function readEvents(response: Response, startedAt = performance.now()): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      events.push({ event, data: data.join("\n"), at: performance.now() - startedAt });
      end = buffer.indexOf("\n\n");
    }
  }
  return events;
}

/** A metric's value from Prometheus text (first series of that name). */
export function metricValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`no metric ${name}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
