// Environment for running the Prisma CLI offline: no usage ping, and a clear failure instead of
// an attempted engine download if something asks for a native engine.
export const prismaEnv = {
  ...process.env,
  CHECKPOINT_DISABLE: "1",
  PRISMA_HIDE_UPDATE_MESSAGE: "1",
  PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false",
  PRISMA_QUERY_ENGINE_LIBRARY: "/bin/false",
  DATABASE_URL: process.env.SWITCHYARD_PRISMA_URL ?? process.env.DATABASE_URL ?? "postgresql://localhost/unused",
};
