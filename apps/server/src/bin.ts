import { runCli } from "./cli";

const code = await runCli(process.argv.slice(2));
// Exit explicitly: a pool or timer left open by a dependency must not keep a finished command alive.
process.exit(code);
