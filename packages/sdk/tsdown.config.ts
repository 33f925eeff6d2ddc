import { defineConfig } from "tsdown";
import { library } from "../../tooling/typescript/tsdown.base.ts";

export default defineConfig(
  library({
  "index": "src/index.ts",
    "node/index": "src/node/index.ts",
    "cli/bin": "src/cli/bin.ts",
  }),
);
