import type { Logger } from "pino";
import type { FileCleanupReport, FileStore } from "./files";

// setInterval's largest delay; longer ones fire at once.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Runs `FileStore.removeExpired` every `batch.fileCleanupInterval`: expired files and
 * abandoned uploads leave the disk without anyone asking. Safe on several instances at once.
 */
export class FileCleanup {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly files: FileStore,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  async run(): Promise<FileCleanupReport> {
    const report = await this.files.removeExpired();
    if (report.expired + report.abandoned > 0) this.logger.info(report, "files: removed expired and abandoned files");
    return report;
  }

  start(): void {
    this.timer ??= setInterval(
      () => {
        if (this.running) return;
        this.running = this.run()
          .catch((error: unknown) => this.logger.warn({ err: error }, "files: removing expired files failed"))
          .finally(() => {
            this.running = undefined;
          });
      },
      Math.min(Math.max(this.intervalMs, 1000), MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
