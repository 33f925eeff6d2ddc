import { Writable } from "node:stream";
import { createLogger } from "../src/logger";

/** A logger that keeps its JSON lines, so tests can assert on what was logged. */
export function memoryLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { logger: createLogger({ level: "info", pretty: false, destination }), lines };
}
