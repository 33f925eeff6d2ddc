import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import path from "node:path";
import { FileCleanup } from "@switchyard/batch";
import { testDrivers } from "@switchyard/db/testing";
import type OpenAI from "openai";
import { toFile } from "openai";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../harness";

const KiB = 1024;
const HOUR = 3_600_000;
const BOUNDARY = "----switchyard-test-boundary";

const line = (i: number) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "org/fast", messages: [{ role: "user", content: `hello ${i}` }], max_tokens: 4 },
  });

/** A JSONL body of about `bytes` bytes. */
function jsonl(bytes: number): Buffer {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const text = line(i);
    lines.push(text);
    size += text.length + 1;
  }
  return Buffer.from(`${lines.join("\n")}\n`);
}

function formHead(filename = "input.jsonl"): string {
  return (
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
    `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
    "Content-Type: application/jsonl\r\n\r\n"
  );
}

function uploadsOf(h: GatewayHarness): string[] {
  const dir = path.join(h.filesDir, "uploads");
  return existsSync(dir) ? readdirSync(dir) : [];
}

async function until(check: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
  return true;
}

/**
 * A multipart upload sent by hand: the form's head and `first` bytes of the file, then the
 * rest only if `rest` is given. Resolves with the answer, or with `sent` when it never came.
 */
function rawUpload(
  h: GatewayHarness,
  key: string,
  options: { announced?: number; first: Buffer },
): { answer: Promise<{ status: number; body: string }>; abort(): void } {
  const target = new URL(`${h.url}/v1/files`);
  const req = request({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: "POST",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": `multipart/form-data; boundary=${BOUNDARY}`,
      ...(options.announced === undefined ? {} : { "content-length": String(options.announced) }),
    },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", (error) => reject(error));
  });
  answer.catch(() => {});
  req.write(formHead());
  req.write(options.first);
  return { answer, abort: () => req.destroy() };
}

function errorOf(error: unknown) {
  const e = error as InstanceType<typeof OpenAI.APIError>;
  return { status: e.status, code: e.code };
}

const drivers = await testDrivers();

describe.each(drivers)("hostile uploads on %s: aborted, over quota, kept forever", (driver) => {
  let h: GatewayHarness;
  let now = Date.parse("2030-01-01T00:00:00Z");
  const clock = { now: () => now };

  beforeAll(async () => {
    h = await startGatewayHarness({
      driver,
      waitFor: ["org/fast"],
      batches: {
        clock,
        settings: { maxStorageBytesPerUser: 1024 * KiB, maxFileBytes: 4096 * KiB, fileExpiry: "2h" },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it("an aborted upload leaves no part file", async () => {
    const { key } = await h.addUser("dropper");
    const upload = rawUpload(h, key, { announced: 900 * KiB, first: jsonl(256 * KiB) });
    // The server is writing it...
    expect(await until(() => uploadsOf(h).some((name) => name.endsWith(".part")))).toBe(true);
    // ...when the client goes away mid-body.
    upload.abort();
    expect(await until(() => uploadsOf(h).length === 0, 5000)).toBe(true);
    expect(uploadsOf(h)).toEqual([]);
    expect(await h.db.prisma.file.count()).toBe(0);
  });

  it("a user over their storage quota gets 4xx before the body is stored", async () => {
    const { client, key, userId } = await h.addUser("hoarder");
    const kept = await client.files.create({ file: await toFile(jsonl(700 * KiB), "a.jsonl"), purpose: "batch" });
    expect(kept.bytes).toBeGreaterThan(690 * KiB);

    // The SDK's upload of another 700 KB: refused, nothing stored.
    const refused = await client.files
      .create({ file: await toFile(jsonl(700 * KiB), "b.jsonl"), purpose: "batch" })
      .catch(errorOf);
    expect(refused).toEqual({ status: 413, code: "storage_quota_exceeded" });

    // Announced by its length: answered before the body is sent, so none of it reaches the disk.
    const announced = rawUpload(h, key, { announced: 700 * KiB, first: Buffer.from(line(0)) });
    const early = await Promise.race([
      announced.answer,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000)),
    ]);
    announced.abort();
    expect(early?.status).toBe(413);
    expect(JSON.parse(early?.body ?? "{}").error?.code).toBe("storage_quota_exceeded");

    // Sent without a length: cut off where the quota ends, and removed.
    const streamed = await fetch(`${h.url}/v1/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": `multipart/form-data; boundary=${BOUNDARY}` },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(formHead()));
          controller.enqueue(jsonl(700 * KiB));
          controller.enqueue(new TextEncoder().encode(`\r\n--${BOUNDARY}--\r\n`));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: { code: string } }).error.code).toBe("storage_quota_exceeded");

    expect(await until(() => uploadsOf(h).length === 1)).toBe(true);
    expect((await client.files.list()).data.map((f) => f.id)).toEqual([kept.id]);
    expect(await h.db.prisma.file.count({ where: { userId } })).toBe(1);

    // Deleting frees the room again.
    await client.files.delete(kept.id);
    const again = await client.files.create({ file: await toFile(jsonl(700 * KiB), "c.jsonl"), purpose: "batch" });
    expect(again.bytes).toBeGreaterThan(690 * KiB);
    await client.files.delete(again.id);
  });

  it("expired files are removed", async () => {
    const { client } = await h.addUser("forgetful");
    const cleanup = new FileCleanup(h.files as NonNullable<GatewayHarness["files"]>, pino({ level: "silent" }), 1000);
    const short = await client.files.create({
      file: await toFile(jsonl(KiB), "short.jsonl"),
      purpose: "batch",
      expires_after: { anchor: "created_at", seconds: 3600 },
    });
    const plain = await client.files.create({ file: await toFile(jsonl(KiB), "plain.jsonl"), purpose: "batch" });
    const inUse = await client.files.create({ file: await toFile(jsonl(KiB), "used.jsonl"), purpose: "batch" });
    expect(short.expires_at).toBe(short.created_at + 3600);
    expect(plain.expires_at).toBe(plain.created_at + 2 * 3600); // batch.fileExpiry
    const batch = await client.batches.create({
      input_file_id: inUse.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
    });
    const onDisk = async (id: string) => existsSync((await h.db.prisma.file.findUniqueOrThrow({ where: { id } })).path);

    // Longer than a day is refused, as OpenAI refuses more than 30 days (here: batch.fileExpiry).
    const tooLong = await client.files
      .create({
        file: await toFile(jsonl(KiB), "long.jsonl"),
        purpose: "batch",
        expires_after: { anchor: "created_at", seconds: 3 * 3600 },
      })
      .catch(errorOf);
    expect(tooLong).toEqual({ status: 400, code: "invalid_field" });

    // A crash left an unrecorded upload and a part file two hours ago.
    const uploads = path.join(h.filesDir, "uploads");
    const leftovers = ["file-00000000000000000000abcd.jsonl", "file-00000000000000000000abce.jsonl.part"];
    for (const name of leftovers) {
      writeFileSync(path.join(uploads, name), "x");
      const old = new Date(now - 2 * HOUR);
      utimesSync(path.join(uploads, name), old, old);
    }
    expect(statSync(path.join(uploads, leftovers[0] as string)).size).toBe(1);

    now += HOUR + 1000;
    expect(await cleanup.run()).toEqual({ expired: 1, abandoned: 2 });
    expect(await client.files.retrieve(short.id).catch(errorOf)).toEqual({ status: 404, code: "file_not_found" });
    expect(await onDisk(short.id)).toBe(false);
    expect(await onDisk(plain.id)).toBe(true);
    for (const name of leftovers) expect(existsSync(path.join(uploads, name))).toBe(false);

    now += HOUR;
    expect(await cleanup.run()).toEqual({ expired: 1, abandoned: 0 });
    expect(await onDisk(plain.id)).toBe(false);
    // The input of an unfinished batch waits for the batch to end.
    expect(await onDisk(inUse.id)).toBe(true);
    expect((await client.files.retrieve(inUse.id)).id).toBe(inUse.id);
    await client.batches.cancel(batch.id);
    await h.db.prisma.batch.update({ where: { id: batch.id }, data: { status: "cancelled" } });
    expect(await cleanup.run()).toEqual({ expired: 1, abandoned: 0 });
    expect(await onDisk(inUse.id)).toBe(false);
    // Each file is removed once, however often the cleanup runs.
    expect(await cleanup.run()).toEqual({ expired: 0, abandoned: 0 });
  });
});
