// Generates the Prisma client into src/generated/prisma (run on install; no download needed).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { prismaEnv } from "./prisma-env.mjs";

const cwd = fileURLToPath(new URL("..", import.meta.url));
const result = spawnSync("prisma", ["generate", "--schema", "prisma/schema.prisma"], {
  cwd,
  env: { ...prismaEnv, PATH: `${cwd}node_modules/.bin:${process.env.PATH}` },
  stdio: "inherit",
});
process.exit(result.status ?? 1);
