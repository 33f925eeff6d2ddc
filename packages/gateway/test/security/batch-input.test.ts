import { existsSync, readFileSync, truncateSync } from "node:fs";
import { testDrivers } from "@switchyard/db/testing";
import type OpenAI from "openai";
import { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "../harness";

const MiB = 1024 * 1024;
const PROC_IO = "/proc/self/io";

/** Bytes this process has read (the gateway runs in it; every thread, the file system's pool included). */
function bytesRead(): number {
  return Number(/rchar:\s*(\d+)/.exec(readFileSync(PROC_IO, "utf8"))?.[1]);
}

const line = (i: number) =>
  JSON.stringify({
    custom_id: `req-${i}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "org/fast", messages: [{ role: "user", content: `hello ${i}` }], max_tokens: 4 },
  });

if (!existsSync(PROC_IO)) {
  const reason = `${PROC_IO} is missing (bytes read cannot be measured)`;
  if (process.env.SWITCHYARD_REQUIRE_SERVICES === "1")
    throw new Error(`${reason}; SWITCHYARD_REQUIRE_SERVICES=1 forbids skipping`);
  console.warn(`packages/gateway/test/security/batch-input.test.ts: skipped: ${reason}`);
}

const drivers = await testDrivers();

describe.skipIf(!existsSync(PROC_IO)).each(drivers)(
  `hostile batch inputs on %s (bytes read measured in ${PROC_IO})`,
  (driver) => {
    let h: GatewayHarness;

    beforeAll(async () => {
      h = await startGatewayHarness({
        driver,
        waitFor: ["org/fast"],
        batches: { settings: { maxLineBytes: MiB, activePerUser: 1 } },
      });
    });
    afterAll(async () => {
      await h?.close();
    });

    /** An uploaded file that a user then grows on disk into one 100 MB line (sparse: no disk used). */
    async function hundredMegabyteLine(client: OpenAI): Promise<string> {
      const file = await client.files.create({ file: await toFile(Buffer.from("{"), "big.jsonl"), purpose: "batch" });
      const stored = await h.files?.locate(null, file.id);
      truncateSync(stored?.path as string, 100 * MiB);
      return file.id;
    }

    async function create(client: OpenAI, fileId: string) {
      const before = bytesRead();
      const outcome = await client.batches
        .create({ input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })
        .then(
          (batch) => ({ status: 200, code: undefined as string | undefined, param: undefined, message: "", batch }),
          (error: InstanceType<typeof OpenAI.APIError>) => ({
            status: error.status,
            code: error.code ?? undefined,
            param: error.param,
            message: error.message,
            batch: undefined,
          }),
        );
      return { ...outcome, read: bytesRead() - before };
    }

    it("a 100 MB one-line input is refused without reading it whole", async () => {
      const { client } = await h.addUser("liner");
      const fileId = await hundredMegabyteLine(client);
      const answer = await create(client, fileId);
      expect(answer).toMatchObject({ status: 400, code: "batch_line_too_long", param: "input_file_id" });
      expect(answer.message).toMatch(/Line 1 of the input file is longer than the limit of 1 MB per line/);
      // The limit and a read-ahead chunk, not the line.
      expect(answer.read).toBeLessThan(8 * MiB);
      expect(await h.db.prisma.batch.count({ where: { inputFileId: fileId } })).toBe(0);
    });

    it("a batch over the active quota is refused before the file is read", async () => {
      const { client } = await h.addUser("busy");
      const first = await client.files.create({
        file: await toFile(Buffer.from(`${line(1)}\n`), "first.jsonl"),
        purpose: "batch",
      });
      const running = await create(client, first.id); // no worker here: it stays active
      expect(running.status).toBe(200);
      const fileId = await hundredMegabyteLine(client);
      const answer = await create(client, fileId);
      expect(answer).toMatchObject({ status: 429, code: "batch_limit_reached" });
      expect(answer.message).toContain(running.batch?.id as string);
      // Not a byte of the 100 MB: the quota is checked before the file is opened.
      expect(answer.read).toBeLessThan(256 * 1024);
    });
  },
);
