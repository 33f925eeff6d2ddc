import path from "node:path";
import { InvalidArgumentError, Option } from "commander";

export const DEFAULT_DATA_DIR = ".switchyard";
export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = "127.0.0.1";

/** The URL to show for a server listening on `host`:`port` (a wildcard host shown as 127.0.0.1, IPv6 bracketed). */
export function shownUrl(host: string, port: number): string {
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return `http://${shownHost === "0.0.0.0" ? "127.0.0.1" : shownHost}:${port}`;
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError("must be an integer from 0 to 65535");
  return port;
}

/** Options shared by every command that opens the database. */
export const dataDirOption = () =>
  new Option("--data-dir <dir>", "where embedded state lives (ignored when DATABASE_URL is set)")
    .env("SWITCHYARD_DATA_DIR")
    .default(DEFAULT_DATA_DIR);

export const configOption = () =>
  new Option("--config <file>", "catalog and platform config (YAML); default: the built-in simulated catalog").env(
    "SWITCHYARD_CONFIG",
  );

export function resolveDataDir(dir: string): string {
  return path.resolve(dir);
}
