import { SwitchyardSDKError } from "./errors";

/** Where `sy` and the SDK look when nothing else names a server: `switchyard serve`'s default. */
export const DEFAULT_SERVER = "http://127.0.0.1:8080";

/**
 * One spelling per server, used as the token store's key and to build request URLs:
 * `http://host:port[/prefix]` without a trailing slash or `/v1` (so the OpenAI-style base URL
 * `http://host:8080/v1` names the same server as `http://host:8080`).
 */
export function normalizeServer(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.includes("://") ? url : `http://${url}`);
  } catch {
    throw new SwitchyardSDKError(`'${url}' is not a server URL; expected something like ${DEFAULT_SERVER}.`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new SwitchyardSDKError(`'${url}' is not an http(s) URL; expected something like ${DEFAULT_SERVER}.`);
  }
  const path = parsed.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
  return `${parsed.origin}${path}`;
}
