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
