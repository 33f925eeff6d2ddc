import { defineProject } from "vitest/config";

// Hooks start real servers (the built-in catalog's ten hot simulators): give them the same
// minute their own deadlines allow, rather than vitest's default 10 s, on a busy machine.
export default defineProject({
  test: { name: "server", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 60_000 },
});
