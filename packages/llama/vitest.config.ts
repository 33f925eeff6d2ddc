import { defineProject } from "vitest/config";

export default defineProject({ test: { name: "llama", include: ["test/**/*.test.ts"] } });
