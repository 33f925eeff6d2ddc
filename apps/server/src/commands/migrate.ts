import type { Command } from "commander";
import type { CliIO } from "../cli-io";
import { dataDirOption, resolveDataDir } from "./options";

export function registerMigrate(program: Command, io: CliIO): void {
  program
    .command("migrate")
    .description("apply pending database migrations (embedded PGlite, or PostgreSQL with DATABASE_URL); safe to repeat")
    .addOption(dataDirOption())
    .action(async (flags: { dataDir: string }) => {
      const { databaseOptions, openDatabase } = await import("@switchyard/db");
      const db = await openDatabase(
        databaseOptions({
          dataDir: resolveDataDir(flags.dataDir),
          databaseUrl: io.env.DATABASE_URL,
          command: "switchyard migrate",
        }),
      );
      try {
        const report = await db.migrate();
        const applied = report.applied.length === 0 ? "no pending migrations" : `applied ${report.applied.join(", ")}`;
        io.out(
          `${db.driver} ${db.location}: ${applied}; ${report.alreadyApplied + report.applied.length} migrations in place\n`,
        );
        for (const name of report.modified) io.err(`warning: migration ${name} changed after it was applied\n`);
      } finally {
        await db.close();
      }
    });
}
