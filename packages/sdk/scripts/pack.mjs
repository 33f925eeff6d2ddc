// The last build step: the tarball users install (`npm i -g http://<server>/clients/sdk.tgz`),
// made by `pnpm pack` exactly as `pnpm --filter @switchyard/sdk pack` makes it (workspace and
// catalog versions written out, publishConfig's exports), kept as pack/switchyard-sdk.tgz: a
// stable name that `switchyard serve` serves at /clients/sdk.tgz. Written beside and renamed,
// so a server never sends a half-written file.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = path.join(root, "pack");
mkdirSync(out, { recursive: true });
const scratch = mkdtempSync(path.join(out, ".packing-"));
try {
  // npm_execpath is pnpm itself when this runs from `pnpm build`; the variable makes the
  // package's prepack (which builds) a no-op, the build being what runs us.
  const pnpm = process.env.npm_execpath;
  const [command, args] =
    pnpm?.endsWith(".js") || pnpm?.endsWith(".cjs") ? [process.execPath, [pnpm]] : [pnpm ?? "pnpm", []];
  execFileSync(command, [...args, "pack", "--pack-destination", scratch], {
    cwd: root,
    env: { ...process.env, SWITCHYARD_SDK_PACKING: "1" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const [tarball] = readdirSync(scratch).filter((name) => name.endsWith(".tgz"));
  if (!tarball) throw new Error("pnpm pack wrote no tarball");
  renameSync(path.join(scratch, tarball), path.join(out, "switchyard-sdk.tgz"));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
