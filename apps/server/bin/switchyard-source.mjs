#!/usr/bin/env node
// `switchyard` from its TypeScript source through tsx (development and tests only; what ships
// is bin/switchyard.mjs on the built dist/).
await import("@switchyard/tsconfig/source.mjs");
await import("../src/bin.ts");
