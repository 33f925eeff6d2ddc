import { defineConfig } from "vitest/config";

// One root config; each package is a project, so `pnpm test` runs everything and
// `pnpm vitest run --project core` runs one package.
//
// Two test files at a time: by default vitest uses one worker fewer than the CPUs, which on a
// 2-core machine means one file at a time, while most files spend their time waiting for the
// processes they start (servers, simulators). Files do not share ports (port 0 or freePort),
// data dirs (mkdtemp), PostgreSQL databases (one per test) or Redis keys. The scheduler's
// files stay one at a time and after all others (their project sets maxWorkers: 1): the
// Slurm tests share one Slurm cluster, and the lifecycle tests time health checks.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*"],
    maxWorkers: 2,
  },
});
