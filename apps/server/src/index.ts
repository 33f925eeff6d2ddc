export { buildProgram, runCli } from "./cli";
export { type CliIO, EXIT } from "./cli-io";
export { ConfigError, loadConfig, readConfigFile } from "./config";
export type { AppContext } from "./context";
export { createLogger } from "./logger";
export { type RunningServer, type ServeOptions, startServer } from "./server";
