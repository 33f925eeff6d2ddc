#!/usr/bin/env node
// The `switchyard` command: the built JavaScript in dist/ (`pnpm build`; bin/switchyard-source.mjs
// runs src/ through tsx in the workspace).
try {
  await import("../dist/bin.js");
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("/dist/bin.js")) throw error;
  process.stderr.write("switchyard: not built yet: run `pnpm build` (or `pnpm switchyard`, which builds first)\n");
  process.exit(1);
}
