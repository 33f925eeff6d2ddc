export {
  type Database,
  type DatabaseOptions,
  databaseOptions,
  describePostgresUrl,
  type LeaderLock,
  openDatabase,
} from "./client";
export { DatabaseOpenError, type DataDirHolder, DataDirLockedError } from "./errors";
export { Prisma, PrismaClient } from "./generated/prisma/client";
export * from "./generated/prisma/enums";
export type * from "./generated/prisma/models";
export { type DataDirLock, dataDirHolder, lockDataDir } from "./lock";
export {
  loadMigrations,
  MIGRATIONS_DIR,
  type Migration,
  MigrationError,
  type MigrationReport,
  migrate,
} from "./migrate";
export * from "./repositories/catalog";
export type { SqlSession } from "./sql";
export type { PrismaClientOrTransaction } from "./types";
