import { defineProject } from "vitest/config";
import { fromSource } from "../../tooling/typescript/vitest.source.ts";

// Hooks start real servers (the built-in catalog's ten hot simulators) and many tests run the
// CLI as subprocesses one after another (each start costs 1-2 s of a busy 2-core machine):
// generous limits, so that a slow machine is not reported as a failure. Speed is measured in
// `pnpm bench`, not here.
export default defineProject({
  ...fromSource,
  test: { name: "server", include: ["test/**/*.test.ts"], testTimeout: 90_000, hookTimeout: 90_000 },
});
