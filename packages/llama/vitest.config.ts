import { defineProject } from "vitest/config";
import { fromSource } from "../../tooling/typescript/vitest.source.ts";

// Loading llama.cpp takes a few seconds on a busy 2-core machine: generous timeouts, no retries.
export default defineProject({
  ...fromSource,
  test: { name: "llama", include: ["test/**/*.test.ts"], testTimeout: 60_000, hookTimeout: 90_000 },
});
