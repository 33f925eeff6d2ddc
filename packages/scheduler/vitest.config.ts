import { defineProject } from "vitest/config";
import { fromSource } from "../../tooling/typescript/vitest.source.ts";

// maxWorkers: 1 puts this project's files in vitest's sequential group: one at a time, after
// every other project's files (the Slurm tests share one Slurm cluster; see the root config).
export default defineProject({
  ...fromSource,
  test: {
    name: "scheduler",
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 1,
  },
});
