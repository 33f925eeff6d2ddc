#!/usr/bin/env node
// Runs the CLI from source through tsx's loader: no build step between a change and a run.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/bin.ts");
