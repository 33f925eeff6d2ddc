import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { defineConfig } from "prisma/config";

/**
 * For the Prisma CLI only (authoring migrations, `prisma migrate status`); Switchyard itself
 * never runs the CLI. Prisma 6's JS schema engine talks through a driver adapter, so it works
 * offline: PostgreSQL when SWITCHYARD_PRISMA_URL (or a real DATABASE_URL) is set, otherwise
 * PGlite in SWITCHYARD_PGLITE_DIR (or in memory, enough for `migrate diff`).
 */
const url = process.env.SWITCHYARD_PRISMA_URL ?? process.env.DATABASE_URL;
const usePostgres = url !== undefined && /^postgres(ql)?:\/\//.test(url) && !url.includes("unused");

/**
 * The CLI never closes its adapter, and PGlite's emulated Postgres timers keep Node's event
 * loop alive, so a PGlite-backed command would never exit. Once the adapter has been idle for
 * a few seconds (the command's work is done), close PGlite cleanly and exit.
 */
const IDLE_EXIT_MS = 3000;

function exitWhenIdle(pglite: PGlite): void {
  let lastUse = Date.now();
  const original = pglite.query.bind(pglite);
  const originalExec = pglite.exec.bind(pglite);
  let inFlight = 0;
  const track =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      inFlight++;
      try {
        return await fn(...args);
      } finally {
        inFlight--;
        lastUse = Date.now();
      }
    };
  pglite.query = track(original) as typeof pglite.query;
  pglite.exec = track(originalExec) as typeof pglite.exec;
  const timer = setInterval(() => {
    if (inFlight > 0 || Date.now() - lastUse < IDLE_EXIT_MS) return;
    clearInterval(timer);
    void pglite.close().finally(() => process.exit(process.exitCode ?? 0));
  }, 250);
  const exit = process.exit.bind(process);
  process.exit = ((code?: number) => {
    clearInterval(timer);
    void pglite.close().finally(() => exit(code));
    return undefined as never;
  }) as typeof process.exit;
}

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: path.join("prisma", "schema.prisma"),
  migrations: { path: path.join("prisma", "migrations") },
  async adapter() {
    // A short idle timeout lets the CLI exit soon after its last query.
    if (usePostgres) return new PrismaPg({ connectionString: url, idleTimeoutMillis: 500 });
    const pglite = new PGlite(process.env.SWITCHYARD_PGLITE_DIR);
    exitWhenIdle(pglite);
    return new PrismaPGlite(pglite);
  },
});
