import { defineProject } from "vitest/config";
import { fromSource } from "../../tooling/typescript/vitest.source.ts";

// Browser tests: a real server and Debian's chromium through playwright-core. The global setup
// builds the dashboard when its sources changed since the last build.
export default defineProject({
  ...fromSource,
  test: {
    name: "admin",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
