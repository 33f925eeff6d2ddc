import { defineProject } from "vitest/config";
import { fromSource } from "../../tooling/typescript/vitest.source.ts";

export default defineProject({ ...fromSource, test: { name: "http", include: ["test/**/*.test.ts"] } });
