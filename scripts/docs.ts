// `pnpm docs:generate`: regenerate the docs that come from code (the error catalogue).
import { writeFileSync } from "node:fs";
import { errorCatalogueMarkdown } from "@switchyard/core";

writeFileSync(new URL("../docs/errors.md", import.meta.url), errorCatalogueMarkdown());
console.log("wrote docs/errors.md");
