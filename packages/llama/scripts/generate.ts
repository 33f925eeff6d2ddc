// Write generated GGUF models into the cache and print where they are:
//   pnpm --filter @switchyard/llama generate [tiny-chat] [bench-embedding] ...
import { statSync } from "node:fs";
import { defaultModelCacheDir, ensureGeneratedModel, parseGeneratedModelRef } from "../src/gguf";

const names = process.argv.slice(2);
for (const name of names.length > 0 ? names : ["tiny-chat", "tiny-embedding"]) {
  const spec = parseGeneratedModelRef(`generated:${name}`);
  if (!spec) throw new Error(`not a generated model: ${name}`);
  const started = performance.now();
  const file = ensureGeneratedModel(spec, defaultModelCacheDir());
  const megabytes = (statSync(file).size / 1e6).toFixed(1);
  console.log(`${name}: ${file} (${megabytes} MB, ${Math.round(performance.now() - started)} ms)`);
}
