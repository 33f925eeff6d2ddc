import { defineProject } from "vitest/config";
import { fromSource } from "../../tooling/typescript/vitest.source.ts";

export default defineProject({
  ...fromSource,
  test: { name: "sdk", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 60_000 },
});
