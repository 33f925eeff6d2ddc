import { isChangingDeployment } from "@switchyard/core";
import type { SchedulerResources } from "../resources";

/**
 * When passes run: every `tickInterval`, but every 50 ms while a deployment is changing, so a
 * server that turns ready (or a Slurm job that starts) is noticed within 50 ms. Concurrent
 * requests for a pass coalesce into one more pass.
 */
export class ReconcileLoop {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private closed = false;
  /** Whether the last pass failed (logged once until one works again). */
  private failing = false;

  constructor(
    private readonly res: SchedulerResources,
    private readonly pass: () => Promise<void>,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Run passes on a timer, the first after `delayMs`. */
  schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(async () => {
      await this.tick();
      const busy = this.res.snapshot.all().some((d) => isChangingDeployment(d.state));
      this.schedule(busy ? 50 : Math.max(50, this.res.config.scheduler.tickInterval * 1000));
    }, delayMs);
    this.timer.unref();
  }

  /** Ask for a pass soon (after a request for a cold model, a process exit). */
  wake(): void {
    if (this.closed) return;
    setImmediate(() => void this.tick());
  }

  /** One pass; while one runs, callers wait for it and one more. */
  tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
          if (this.failing) this.res.logger.info("scheduler: reconcile passes work again");
          this.failing = false;
        } catch (error) {
          // Once per outage (the database gone: every pass fails, several a second), not per pass.
          if (!this.failing)
            this.res.logger.error(
              { err: error },
              "scheduler: reconcile passes fail; routing on the last snapshot until they work again",
            );
          this.failing = true;
        }
      } while (this.again && !this.closed);
    })().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  /** No more passes; resolves once the running one is over. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking;
  }
}
