// setInterval's largest delay; longer ones fire at once.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A job run every `intervalMs` (at least 1 s) in the background: a run never overlaps the
 * previous one, a failure is handed to `onError` and the next run goes on, the timer does not
 * keep the process alive, and `stop()` waits for a run in progress. Housekeeping (expired auth
 * rows, expired files) runs on it.
 */
export class Periodic {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly job: () => Promise<unknown>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    this.timer ??= setInterval(
      () => {
        if (this.running) return;
        this.running = this.job()
          .catch(this.onError)
          .finally(() => {
            this.running = undefined;
          });
      },
      Math.min(Math.max(this.intervalMs, 1000), MAX_TIMER_MS),
    );
    (this.timer as { unref?: () => void }).unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
