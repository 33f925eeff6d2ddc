import type { UserConfig } from "tsdown";

/**
 * How every workspace package builds: one ES module bundle per entry for Node 20 with its
 * declarations, into dist/ (chunks beside the entries, so `new URL("../x", import.meta.url)` in
 * a top-level source file means the same place from src/ and from dist/). Dependencies stay
 * imports (tsdown leaves out what package.json lists); workspace packages are resolved
 * through their `switchyard-source` condition, so a bundle never depends on another package's dist/.
 */
export function library(entry: Record<string, string>, options: Partial<UserConfig> = {}): UserConfig {
  return {
    entry,
    format: "esm",
    platform: "node",
    target: "node20",
    dts: true,
    clean: true,
    sourcemap: false,
    hash: true,
    fixedExtension: false,
    logLevel: "warn",
    inputOptions: {
      resolve: { conditionNames: ["switchyard-source", "import", "node", "default"] },
      // Declarations take most of a build; that is expected, not worth a warning.
      checks: { pluginTimings: false },
    },
    ...options,
  };
}
