#!/usr/bin/env node
// The `switchyard` command runs the built JavaScript (dist/, from `pnpm build`). In the
// workspace, SWITCHYARD_FROM_SOURCE=1 runs src/ through tsx instead (the tests set it, so that
// they and the processes they start run the code as it is, with no build in between).
if (process.env.SWITCHYARD_FROM_SOURCE === "1") {
  await import("./switchyard-source.mjs");
} else {
  try {
    await import("../dist/bin.js");
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("/dist/bin.js")) throw error;
    process.stderr.write("switchyard: not built yet: run `pnpm build` (or `pnpm switchyard`, which builds first)\n");
    process.exit(1);
  }
}
