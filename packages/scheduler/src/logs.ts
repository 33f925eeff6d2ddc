import { open } from "node:fs/promises";

/** The last `lines` lines of a log file (reads at most its last 64 KB). */
export async function tailFile(file: string, lines = 15): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, "r");
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString("utf8").split("\n").filter(Boolean).slice(-lines).join("\n");
  } catch {
    return "";
  } finally {
    await handle?.close();
  }
}

const IP_ADDRESS = /\[[0-9A-Fa-f:.]+\](?::\d+)?|\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g;

/**
 * A log excerpt without where the server listens (IP literals, its host name, its port): failure
 * reasons reach users (`/v1/models`, the jobs view, 503 bodies), and addresses are for admins.
 */
export function withoutAddresses(text: string, server: { host: string | null; port: number | null }): string {
  let out = text.replace(IP_ADDRESS, "<address>");
  if (server.host) out = out.split(server.host).join("<address>");
  if (server.port) out = out.replace(new RegExp(`:${server.port}\\b`, "g"), ":<port>");
  return out;
}
