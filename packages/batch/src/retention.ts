import { Periodic } from "@switchyard/core";
import type { Logger } from "pino";
import type { FileCleanupReport, FileStore } from "./files";

/**
 * Runs `FileStore.removeExpired` every `batch.fileCleanupInterval`: expired files and
 * abandoned uploads leave the disk without anyone asking. Safe on several instances at once.
 */
export class FileCleanup {
  private readonly timer: Periodic;

  constructor(
    private readonly files: FileStore,
    private readonly logger: Logger,
    intervalMs: number,
  ) {
    this.timer = new Periodic(
      intervalMs,
      () => this.run(),
      (error) => this.logger.warn({ err: error }, "files: removing expired files failed"),
    );
  }

  async run(): Promise<FileCleanupReport> {
    const report = await this.files.removeExpired();
    if (report.expired + report.abandoned > 0) this.logger.info(report, "files: removed expired and abandoned files");
    return report;
  }

  start(): void {
    this.timer.start();
  }

  stop(): Promise<void> {
    return this.timer.stop();
  }
}
