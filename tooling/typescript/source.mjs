// Run a workspace package from its TypeScript source: tsx's loader for .ts files, plus the
// `source` export condition for @switchyard/* imports only (so they resolve to src/, not dist/;
// third-party packages resolve as Node would). Used by the source bins in development
// (bin/*-source.mjs) and by `node --import @switchyard/tsconfig/source.mjs file.ts`.
import { register } from "node:module";
import { register as registerTsx } from "tsx/esm/api";

registerTsx();
// Registered after tsx, so it runs first and hands tsx the extra condition.
register(
  `data:text/javascript,${encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier.startsWith("@switchyard/") && !context.conditions.includes("switchyard-source")) {
    return next(specifier, { ...context, conditions: ["switchyard-source", ...context.conditions] });
  }
  return next(specifier, context);
}`)}`,
);
