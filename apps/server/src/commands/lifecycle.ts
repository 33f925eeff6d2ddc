import type { CliIO } from "../cli-io";

/**
 * Run a long-lived process (serve, batch-worker) until SIGINT or SIGTERM, then close it;
 * a second signal exits at once. The handlers are installed before anything starts: a signal
 * that arrives while it is still starting (or in the instant after its "up" line reaches a
 * supervisor) must stop it cleanly, not kill it with the default action and leave model
 * servers behind. Resolves once it has stopped.
 */
export async function runUntilSignal<T extends { close(): Promise<void> }>(
  io: CliIO,
  start: () => Promise<T>,
  hooks: { started(running: T): void; stopping?(running: T, signal: NodeJS.Signals): void },
): Promise<void> {
  let running: T | undefined;
  let signalled: NodeJS.Signals | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => {
    stopped = resolve;
  });
  const shutdown = (target: T, signal: NodeJS.Signals) => {
    hooks.stopping?.(target, signal);
    void target
      .close()
      .catch((error) => io.err(`switchyard: shutdown failed: ${(error as Error).message}\n`))
      .finally(stopped);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      io.err(`second ${signal}: exiting now\n`);
      process.exit(1);
    }
    signalled = signal;
    if (running) shutdown(running, signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  running = await start();
  if (signalled) shutdown(running, signalled);
  else hooks.started(running);
  return done;
}
