import type { ServerResponse } from "node:http";
import type { Answer } from "./answer";

const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
  "x-switchyard-simulator": "1",
};

export interface Delivery {
  /** The `fast` profile: everything at once, no timers. */
  fast: boolean;
  ttftMs: number;
  tokenMs: number;
  /** Timers in flight, so the server can clear them when it stops. */
  timers: Set<NodeJS.Timeout>;
  /** Send a whole (non-streamed) answer with status 200. */
  sendJson: (body: string) => void;
  /** Tokens generated (counted as they are sent). */
  generated: (tokens: number) => void;
  /** The answer was sent in full. */
  finished: () => void;
  /** The client left before the end; `where` says at which point. */
  cancelled: (where: string) => void;
}

/**
 * Send one answer paced like a real server: the first token after `ttftMs`, then one step every
 * `tokenMs` (a stream writes each step as it is due; a whole answer is sent when the last step
 * would have been). A client that leaves stops the timers.
 */
export function deliver(res: ServerResponse, answer: Answer, d: Delivery): void {
  if (!answer.stream) {
    if (d.fast) {
      d.generated(answer.completionTokens);
      d.sendJson(answer.body());
      d.finished();
      return;
    }
    const delay = answer.steps === 0 ? d.ttftMs : d.ttftMs + (answer.steps - 1) * d.tokenMs;
    const timer = setTimeout(() => {
      d.timers.delete(timer);
      res.off("close", onClose);
      d.generated(answer.completionTokens);
      d.sendJson(answer.body());
      d.finished();
    }, delay);
    d.timers.add(timer);
    const onClose = () => {
      clearTimeout(timer);
      d.timers.delete(timer);
      d.cancelled("generating");
    };
    res.once("close", onClose);
    return;
  }

  res.writeHead(200, SSE_HEADERS);
  if (d.fast) {
    let text = answer.head();
    for (let k = 0; k < answer.steps; k++) text += answer.step(k).text;
    d.generated(answer.completionTokens);
    res.end(text + answer.tail());
    d.finished();
    return;
  }
  const head = answer.head();
  if (head) res.write(head);
  else res.flushHeaders();
  const t0 = performance.now();
  let k = 0;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const tick = () => {
    if (timer) d.timers.delete(timer);
    const step = answer.step(k);
    d.generated(step.tokens);
    k++;
    if (k >= answer.steps) {
      done = true;
      res.off("close", onClose);
      res.end(step.text + answer.tail());
      d.finished();
      return;
    }
    res.write(step.text);
    schedule();
  };
  const schedule = () => {
    const due = t0 + d.ttftMs + k * d.tokenMs;
    timer = setTimeout(tick, Math.max(0, due - performance.now()));
    d.timers.add(timer);
  };
  const onClose = () => {
    if (done) return;
    if (timer) {
      clearTimeout(timer);
      d.timers.delete(timer);
    }
    d.cancelled(`streaming, after ${k} of ${answer.steps} steps`);
  };
  res.once("close", onClose);
  schedule();
}
