#!/usr/bin/env node
// The `sy` command runs the built JavaScript (dist/). In the workspace, SWITCHYARD_FROM_SOURCE=1
// runs src/ through tsx instead (the tests set it: no build between a change and a run).
if (process.env.SWITCHYARD_FROM_SOURCE === "1") {
  await import("@switchyard/tsconfig/source.mjs");
  await import("../src/cli/bin.ts");
} else {
  try {
    await import("../dist/cli/bin.js");
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("/dist/cli/bin.js")) throw error;
    process.stderr.write("sy: not built yet: run `pnpm build` (or `pnpm sy`, which builds first)\n");
    process.exit(1);
  }
}
