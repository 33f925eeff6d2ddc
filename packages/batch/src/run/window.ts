import { batchLineError } from "@switchyard/core";
import type { AdaptiveConcurrency } from "../concurrency";
import type { InputLine } from "../lines";
import type { Finished, LineFormat, OutputLines } from "./output-lines";
import type { InFlight, LineRequest, LineRequests } from "./request";
import type { RunResources } from "./resources";

/** How far ahead of the first unfinished line requests may run (bounds what waits to be written). */
export const WINDOW = 4096;

/**
 * The concurrency a batch may reach: its share of each live replica (what `interactiveShare`
 * leaves of `replicaConcurrency`), times the live replicas, divided among this worker's
 * batches of the same model.
 */
export function concurrencyCeiling(res: RunResources): number {
  const { settings, scheduler, sharing } = res.deps;
  const { batch } = res;
  const perReplica = Math.max(1, Math.floor(settings.replicaConcurrency * (1 - settings.interactiveShare)));
  const replicas = scheduler
    .deployments()
    .filter(
      (d) => d.state === "live" && d.cluster === batch.clusterName && scheduler.modelOf(d)?.id === batch.model,
    ).length;
  const share = Math.max(1, sharing(batch.clusterName, batch.model));
  return Math.max(1, Math.floor((perReplica * Math.max(1, replicas)) / share));
}

/**
 * The in-flight window: reads lines in order and starts each one's request while the adaptive
 * limit allows, never more than `WINDOW` lines ahead of the first one not yet written. Finished
 * lines go to the output in order. `drain` resolves when everything is read and written, or at
 * an interruption once nothing is in flight.
 */
export class LineWindow {
  /** Lines whose request runs now. */
  private readonly inflight = new Map<number, InFlight>();
  private exhausted = false;
  private pumping = false;
  /** The next line to read. */
  next: number;
  private idle: (() => void) | undefined;

  constructor(
    private readonly res: RunResources,
    private readonly parts: {
      reader: AsyncGenerator<InputLine>;
      output: OutputLines;
      requests: Pick<LineRequests, "send">;
      limiter: Pick<AdaptiveConcurrency, "limit">;
      format: LineFormat;
    },
  ) {
    this.next = parts.output.written;
  }

  /** The lines not read yet (an expiry writes each as expired). */
  get reader(): AsyncGenerator<InputLine> {
    return this.parts.reader;
  }

  /** Run until drained (see the class); an interruption aborts what is in flight. */
  async drain(): Promise<void> {
    const drained = new Promise<void>((resolve) => {
      this.idle = resolve;
    });
    const unsubscribe = this.res.interrupts.onInterrupt((why) => {
      for (const flight of this.inflight.values()) flight.call?.abort(why);
      this.checkIdle();
    });
    try {
      this.pump();
      // Interrupted before this (a stop during validation or the model's hold): pump starts
      // nothing and nothing in flight will call back, so settle here or wait forever.
      this.checkIdle();
      await drained;
    } finally {
      unsubscribe();
    }
  }

  /** Start requests while the limit, the window and the input allow. */
  private pump(): void {
    const { interrupts } = this.res;
    const { output, limiter, reader } = this.parts;
    if (this.pumping || interrupts.reason || this.exhausted) return;
    this.pumping = true;
    void (async () => {
      try {
        while (
          !interrupts.reason &&
          !this.exhausted &&
          this.inflight.size < limiter.limit &&
          this.next - output.written < WINDOW
        ) {
          const item = await reader.next();
          if (item.done) {
            this.exhausted = true;
            break;
          }
          this.start(this.next++, item.value);
        }
      } catch (error) {
        this.res.log.error({ err: error }, "batch: reading the input failed");
        interrupts.interrupt("stop");
      } finally {
        this.pumping = false;
        this.checkIdle();
      }
    })();
  }

  private checkIdle(): void {
    if (!this.idle || this.pumping || this.inflight.size > 0) return;
    if (this.res.interrupts.reason || (this.exhausted && this.parts.output.waiting === 0)) {
      const done = this.idle;
      this.idle = undefined;
      done();
    }
  }

  private start(index: number, input: InputLine): void {
    const { output, requests, format } = this.parts;
    const request = JSON.parse(input.text) as LineRequest;
    const flight: InFlight = { call: undefined };
    this.inflight.set(index, flight);
    output.start(index, request.custom_id);
    void requests
      .send(index, request, flight)
      .catch((error: Error): Finished => {
        this.res.log.error({ err: error, line: input.line }, "batch: request failed unexpectedly");
        return format.failed(
          index,
          request.custom_id,
          null,
          batchLineError("internal_error", { detail: error.message }),
        );
      })
      .then((outcome) => {
        this.inflight.delete(index);
        if (outcome) {
          output.finish(index, outcome);
          if (!this.res.interrupts.isLost()) output.advance();
        }
        this.pump();
        this.checkIdle();
      });
  }
}
