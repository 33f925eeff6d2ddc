import type { ModelObject } from "@switchyard/core";
import yoctoSpinner, { type Spinner } from "yocto-spinner";
import type { ModelNotReadyError } from "../../errors";
import type { Switchyard } from "../../node/client";
import type { WaitForModel } from "../../wait";
import { type CliContext, CliError, EXIT } from "../context";
import { formatDuration, truncate } from "../output";

/**
 * What the user sees while a cold model comes up: a live spinner on a terminal (its state,
 * queue position and ETA, refreshed from /v1/models every 2 s, and a countdown to the next
 * retry), or a line per change on a plain stderr; nothing with --json.
 */
export class ModelWaiter {
  private readonly started = Date.now();
  private spinner: Spinner | undefined;
  private armed: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private active = false;
  private done = false;
  private status: Pick<ModelObject, "status" | "queue_position" | "eta_seconds"> | undefined;
  private retryAt: number | undefined;
  private lastLine = "";

  constructor(
    private readonly ctx: CliContext,
    private readonly client: Switchyard,
    private readonly model: string,
    private readonly maxWaitMs: number,
  ) {}

  /** The wait policy for the client: retry as Retry-After says, up to --max-wait. */
  get policy(): WaitForModel {
    return {
      maxWaitMs: this.maxWaitMs,
      onWait: (error, { retryInMs }) => {
        this.status = {
          status: error.modelState ?? "starting",
          queue_position: error.queuePosition,
          eta_seconds: error.etaSeconds,
        };
        this.retryAt = Date.now() + retryInMs;
        this.show();
      },
    };
  }

  get state(): string {
    return this.status?.status ?? "not ready";
  }

  get waitedMs(): number {
    return Date.now() - this.started;
  }

  /** Show the spinner if the answer has not started within a second (a server holding a cold start). */
  begin(): void {
    if (this.ctx.json) return;
    this.armed = setTimeout(() => this.show(), 1000);
  }

  private show(): void {
    if (this.done || this.ctx.json) return;
    if (!this.active) {
      this.active = true;
      if (this.ctx.err.tty) {
        this.spinner = yoctoSpinner({ text: this.text(), stream: process.stderr }).start();
        this.ticker = setInterval(() => {
          if (this.spinner) this.spinner.text = this.text();
        }, 1000);
      }
      void this.poll();
      this.poller = setInterval(() => void this.poll(), 2000);
    }
    if (this.spinner) this.spinner.text = this.text();
    else this.printLine();
  }

  private async poll(): Promise<void> {
    try {
      const model = await this.client.models.retrieve(this.model, { signal: AbortSignal.timeout(5000) });
      if (this.done) return;
      this.status = model;
      if (this.spinner) this.spinner.text = this.text();
      else this.printLine();
    } catch {
      // The status is a nicety; the request itself says what went wrong.
    }
  }

  private describe(): string {
    const s = this.status;
    if (!s) return `Waiting for ${this.model}`;
    const eta =
      s.eta_seconds === null
        ? s.status === "queued"
          ? ", time to wait unknown"
          : ""
        : s.eta_seconds < 1
          ? ", almost ready"
          : `, about ${formatDuration(s.eta_seconds * 1000)} to go`;
    if (s.status === "queued")
      return `${this.model} is queued${s.queue_position ? ` (position ${s.queue_position})` : ""}${eta}`;
    if (s.status === "starting") return `${this.model} is starting${eta}`;
    if (s.status === "live") return `${this.model} is live, waiting for the answer`;
    return `${this.model} is ${s.status}`;
  }

  private text(): string {
    const retry =
      this.retryAt && this.retryAt > Date.now()
        ? `; retrying in ${Math.ceil((this.retryAt - Date.now()) / 1000)} s`
        : "";
    const what = this.describe();
    const waited = `waited ${formatDuration(this.waitedMs)}`;
    // On a narrow terminal the hint goes first, then how long it waited: the spinner's line must
    // not wrap (the frame, a space and one column spare), and what the model does stays whole.
    const room = (this.ctx.err.columns ?? Number.POSITIVE_INFINITY) - 3;
    const fitting = [
      `${what} (${waited}${retry}; Ctrl-C to cancel)`,
      `${what} (${waited}${retry})`,
      retry ? `${what} (${retry.slice(2)})` : what,
      what,
    ].find((text) => text.length <= room);
    return fitting ?? truncate(what, room);
  }

  /** Without a terminal: one line per change of what the model is doing. */
  private printLine(): void {
    const line = this.describe();
    if (line === this.lastLine) return;
    this.lastLine = line;
    const retry =
      this.retryAt && this.retryAt > Date.now()
        ? ` (retrying in ${Math.ceil((this.retryAt - Date.now()) / 1000)} s)`
        : "";
    this.ctx.err.line(`sy: ${line}${retry}`);
  }

  finish(): void {
    this.done = true;
    clearTimeout(this.armed);
    clearInterval(this.ticker);
    clearInterval(this.poller);
    if (this.spinner) {
      this.spinner.clear();
      this.spinner.stop();
    }
  }

  /** The error for a model that did not come up within --max-wait (exit 5). */
  gaveUp(error: ModelNotReadyError): CliError {
    return new CliError(
      `${this.model} is still ${error.modelState ?? this.state} after waiting ${formatDuration(this.waitedMs)} (--max-wait ${Math.round(this.maxWaitMs / 1000)} s): ${error.message}`,
      EXIT.unavailable,
    );
  }
}
