#!/usr/bin/env node
// The `sy` command: the built JavaScript in dist/ (bin/sy-source.mjs runs src/ in the workspace).
await import("../dist/cli/bin.js");
