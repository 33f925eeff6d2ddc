import { numberAfter, type TokenUsage, type UsageNames, usageFromJson, usageNamesOf } from "@switchyard/usage";
import { type ApiKind, KINDS } from "./kinds";

const CHOICES = Buffer.from('"choices"');
const FINISH_REASON = Buffer.from('"finish_reason"');
const CONTENT = Buffer.from('"content"');
const TEXT = Buffer.from('"text"');
const DELTA = Buffer.from('"delta"');
const BLOCK_DELTA = Buffer.from("content_block_delta");
const SPACE = 0x20;
const COLON = 0x3a;
const QUOTE = 0x22;

/** Where the value of `key` starts in a JSON event (whitespace skipped), or -1. */
function valueStart(event: Buffer, key: Buffer): number {
  const at = event.indexOf(key);
  if (at < 0) return -1;
  let i = at + key.length;
  while (event[i] === SPACE) i++;
  if (event[i] !== COLON) return -1;
  i++;
  while (event[i] === SPACE) i++;
  return i;
}

/**
 * Whether one event carries generated output: model servers send one event per token (per
 * choice), so counting them tells what reached the client when a stream ends early. Openers
 * (an empty delta with the role), finish events and the usage event do not count.
 */
function carriesTokens(kind: ApiKind, event: Buffer): boolean {
  if (kind === "responses") return event.includes(DELTA);
  if (kind === "messages") return event.includes(BLOCK_DELTA);
  const choices = valueStart(event, CHOICES);
  if (choices < 0 || (event[choices] === 0x5b && event[choices + 1] === 0x5d)) return false; // none, or `[]`
  const finish = valueStart(event, FINISH_REASON);
  if (finish >= 0 && event[finish] !== 0x6e) return false; // finished: not `null`
  const text = valueStart(event, kind === "chat" ? CONTENT : TEXT);
  return !(text >= 0 && event[text] === QUOTE && event[text + 1] === QUOTE);
}

const EVENT_END = Buffer.from("\n\n");
const EVENT_END_CRLF = Buffer.from("\r\n\r\n");
const USAGE_ONLY = Buffer.from('"choices":[]');
const USAGE = Buffer.from('"usage":{');

/**
 * Passes a model server's server-sent events to the client as they arrive, on event
 * boundaries (bytes, never re-encoded), while reading the token usage out of them. When
 * Switchyard asked for usage the client did not (to account for it), the usage-only event is
 * taken out of what the client sees.
 */
export class StreamRelay {
  private pending: Buffer | undefined;
  private inputTokens = 0;
  /** The usage the model server reported (at the end of the stream). */
  usage: TokenUsage | undefined;
  /** Events with generated output passed on so far: about one token each. */
  delivered = 0;
  private readonly names: UsageNames;

  constructor(
    private readonly kind: ApiKind,
    private readonly stripUsageEvent: boolean,
  ) {
    this.names = usageNamesOf(KINDS[kind].upstreamPath);
  }

  /** Bytes to send now (complete events), or undefined when there is nothing yet. */
  push(chunk: Buffer): Buffer | undefined {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let cut = -1;
    let sep = 0;
    for (const marker of [EVENT_END, EVENT_END_CRLF]) {
      const at = data.lastIndexOf(marker);
      if (at >= 0 && at + marker.length > cut + sep) {
        cut = at;
        sep = marker.length;
      }
    }
    if (cut < 0) {
      this.pending = data;
      return undefined;
    }
    const complete = data.subarray(0, cut + sep);
    this.pending = cut + sep < data.length ? Buffer.from(data.subarray(cut + sep)) : undefined;
    return this.inspect(complete);
  }

  /** What is left when the upstream ends (an event without its final blank line). */
  end(): Buffer | undefined {
    const rest = this.pending;
    this.pending = undefined;
    return rest && rest.length > 0 ? this.inspect(rest) : undefined;
  }

  /**
   * What a stream that ended early used as far as it went: the prompt as the server reported it
   * (or `promptGuess`), and the output events passed on.
   */
  usedSoFar(promptGuess: number): TokenUsage {
    const usage = this.usage;
    return {
      prompt: usage?.prompt || this.inputTokens || promptGuess,
      completion: Math.max(usage?.completion ?? 0, this.delivered),
    };
  }

  private count(events: Buffer): void {
    let start = 0;
    while (start < events.length) {
      let end = events.indexOf(EVENT_END, start);
      end = end < 0 ? events.length : end + EVENT_END.length;
      if (carriesTokens(this.kind, start === 0 && end === events.length ? events : events.subarray(start, end))) {
        this.delivered++;
      }
      start = end;
    }
  }

  private inspect(events: Buffer): Buffer | undefined {
    this.count(events);
    if (!events.includes(USAGE) && !(this.kind === "messages" && events.includes("message_start"))) return events;
    if (this.kind === "chat" || this.kind === "completions") {
      if (!this.stripUsageEvent) {
        this.usage = usageFromJson(events.toString("utf8"), this.names) ?? this.usage;
        return events;
      }
      // Split into single events and drop the usage-only one(s).
      const kept: Buffer[] = [];
      let start = 0;
      while (start < events.length) {
        let end = events.indexOf(EVENT_END, start);
        end = end < 0 ? events.length : end + EVENT_END.length;
        const event = events.subarray(start, end);
        if (event.includes(USAGE_ONLY) && event.includes(USAGE)) {
          this.usage = usageFromJson(event.toString("utf8"), this.names) ?? this.usage;
        } else {
          kept.push(event);
        }
        start = end;
      }
      return kept.length === 0 ? undefined : kept.length === 1 ? kept[0] : Buffer.concat(kept);
    }
    const text = events.toString("utf8");
    if (this.kind === "messages") {
      const start = text.indexOf("message_start");
      if (start >= 0) this.inputTokens = numberAfter(text, "input_tokens", start) ?? this.inputTokens;
      const delta = text.lastIndexOf("message_delta");
      if (delta >= 0) {
        const output = numberAfter(text, "output_tokens", delta);
        if (output !== undefined) this.usage = { prompt: this.inputTokens, completion: output };
      }
      if (!this.usage && this.inputTokens > 0) this.usage = { prompt: this.inputTokens, completion: 0 };
      return events;
    }
    this.usage = usageFromJson(text, this.names) ?? this.usage;
    return events;
  }
}
