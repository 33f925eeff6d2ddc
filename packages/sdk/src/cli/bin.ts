import { VERSION } from "./version";

const argv = process.argv.slice(2);
// `sy --version` answers before any other module loads (scripts call it to check for sy).
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
  process.stdout.write(`${VERSION}\n`);
} else {
  // A reader that went away (`sy models | head -1`) is not an error worth a stack trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });

  const { runCli } = await import("./program");
  const code = await runCli(argv, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  });
  // Let what was written reach a pipe, then exit: an idle keep-alive socket must not hold a finished command.
  process.stdout.write("", () => process.exit(code));
}
