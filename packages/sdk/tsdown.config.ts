import { defineConfig } from "tsdown";
import { library } from "../../tooling/typescript/tsdown.base.ts";

// The SDK installs alone (`npm i -g switchyard-sdk-*.tgz`): the pieces of @switchyard/core it
// uses (schemas, types, the error catalogue) are bundled in, JavaScript and declarations, so
// the published package depends on npm packages only.
export default defineConfig(
  library(
    {
      index: "src/index.ts",
      "node/index": "src/node/index.ts",
      "cli/bin": "src/cli/bin.ts",
    },
    {
      deps: { alwaysBundle: ["@switchyard/core"] },
      tsconfig: "tsconfig.build.json",
      dts: { eager: true, resolver: "tsc" },
    },
  ),
);
