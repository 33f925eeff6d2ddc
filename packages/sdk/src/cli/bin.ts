import { runCli } from "./program";

// A reader that went away (`sy models | head -1`) is not an error worth a stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const code = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
// Let what was written reach a pipe, then exit: an idle keep-alive socket must not hold a finished command.
process.stdout.write("", () => process.exit(code));
