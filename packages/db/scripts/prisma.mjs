// `pnpm --filter @switchyard/db prisma <args>`: the Prisma CLI with the offline environment.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { prismaEnv } from "./prisma-env.mjs";

const cwd = fileURLToPath(new URL("..", import.meta.url));
const result = spawnSync("prisma", process.argv.slice(2), {
  cwd,
  env: { ...prismaEnv, PATH: `${cwd}node_modules/.bin:${process.env.PATH}` },
  stdio: "inherit",
});
process.exit(result.status ?? 1);
