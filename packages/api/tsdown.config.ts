import { defineConfig } from "tsdown";
import { library } from "../../tooling/typescript/tsdown.base.ts";

export default defineConfig(
  library({
    index: "src/index.ts",
    audit: "src/audit.ts",
  }),
);
