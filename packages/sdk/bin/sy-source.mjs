#!/usr/bin/env node
// `sy` from its TypeScript source through tsx (development and tests only; what ships is
// bin/sy.mjs on the built dist/).
await import("@switchyard/tsconfig/source.mjs");
await import("../src/cli/bin.ts");
