import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, passwordToken, tempDataDir } from "./helpers";

const run = promisify(execFile);

/**
 * The reference service's user guide, walked through as its users type it: each of its curl
 * commands, with only the host, the token and the project directory swapped, against `serve`
 * with the built-in catalog. Where the guide shows only Python (images, embeddings), the same
 * request is sent with curl the way the guide's other examples are written.
 */
describe("the reference guide's commands against serve", () => {
  let server: RunningServer;
  let token: string;
  let project: string;

  /** `curl -X METHOD url -H ... [-d body]` as in the guide; returns the status and the parsed answer. */
  async function curl(method: string, url: string, body?: string): Promise<{ status: number; json: any }> {
    const args = ["-sS", "-X", method, url.replace("https://inference-api.alcf.anl.gov", server.url)];
    args.push("-H", `Authorization: Bearer ${token}`);
    if (body !== undefined) args.push("-H", "Content-Type: application/json", "-d", body);
    args.push("-w", "\n%{http_code}");
    const { stdout } = await run("curl", args);
    const cut = stdout.lastIndexOf("\n");
    return { status: Number(stdout.slice(cut + 1)), json: JSON.parse(stdout.slice(0, cut)) };
  }

  /** The guide's project directory, moved under this test's data directory. */
  const inProject = (guidePath: string) => guidePath.replace("/eagle/argonne_tpc", project);

  beforeAll(async () => {
    const dataDir = tempDataDir();
    project = path.join(dataDir, "eagle", "argonne_tpc");
    mkdirSync(path.join(project, "path", "to", "your", "output", "folder"), { recursive: true });
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir,
      inMemoryDatabase: true,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD, SWITCHYARD_BATCH_DIRS: project },
    });
    token = await passwordToken(server.url);
  });
  afterAll(() => server?.close());

  it("queries endpoint status: jobs and list-endpoints", async () => {
    const jobs = await curl("GET", "https://inference-api.alcf.anl.gov/resource_server/sophia/jobs");
    expect(jobs.status).toBe(200);
    expect(Object.keys(jobs.json)).toEqual(
      expect.arrayContaining(["running", "queued", "stopped", "others", "cluster_status"]),
    );
    const endpoints = await curl("GET", "https://inference-api.alcf.anl.gov/resource_server/list-endpoints");
    expect(endpoints.status).toBe(200);
    expect(JSON.stringify(endpoints.json)).toContain("meta-llama/Meta-Llama-3.1-8B-Instruct");
  });

  it("chats through the vllm path, with and without sampling options", async () => {
    const first = await curl(
      "POST",
      "https://inference-api.alcf.anl.gov/resource_server/sophia/vllm/v1/chat/completions",
      `{
                "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
                "messages":[{"role": "user", "content": "Explain quantum computing in simple terms."}]
             }`,
    );
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ object: "chat.completion", model: "meta-llama/Meta-Llama-3.1-8B-Instruct" });
    expect(first.json.choices[0].message.content.length).toBeGreaterThan(0);

    const second = await curl(
      "POST",
      "https://inference-api.alcf.anl.gov/resource_server/sophia/vllm/v1/chat/completions",
      `{
                    "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
                    "temperature": 0.2,
                    "max_tokens": 150,
                    "messages":[{"role": "user", "content": "What are the symptoms of diabetes?"}]
                 }`,
    );
    expect(second.status).toBe(200);
    expect(second.json.usage.completion_tokens).toBeLessThanOrEqual(150);
  });

  it("describes an image sent as base64 to the vision model", async () => {
    // A 1x1 PNG, as `base64.b64encode(open(path, "rb").read())` gives it.
    const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    const answer = await curl(
      "POST",
      "https://inference-api.alcf.anl.gov/resource_server/sophia/vllm/v1/chat/completions",
      JSON.stringify({
        model: "Qwen/Qwen2-VL-72B-Instruct",
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Describe the key components in this scientific diagram" },
              { type: "image_url", image_url: { url: `data:image/png;base64,${png}` } },
            ],
          },
        ],
        max_tokens: 300,
      }),
    );
    expect(answer.status).toBe(200);
    expect(answer.json.model).toBe("Qwen/Qwen2-VL-72B-Instruct");
  });

  it("embeds through the vllm path, as the guide's embeddings example does", async () => {
    const answer = await curl(
      "POST",
      "https://inference-api.alcf.anl.gov/resource_server/sophia/vllm/v1/embeddings",
      JSON.stringify({
        model: "mistralai/Mistral-7B-Instruct-v0.3-embed",
        input: "The food was delicious and the waiter...",
        encoding_format: "float",
      }),
    );
    expect(answer.status).toBe(200);
    expect(answer.json.object).toBe("list");
    expect(answer.json.data[0].embedding.length).toBeGreaterThan(0);
  });

  it("creates, lists, reads and fetches the result of a batch; cancels another", async () => {
    const input = inProject("/eagle/argonne_tpc/path/to/your/input.jsonl");
    const lines = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({
        custom_id: `request-${i + 1}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: {
          model: "meta-llama/Meta-Llama-3.1-8B-Instruct",
          messages: [{ role: "user", content: `Hello world ${i}` }],
          max_tokens: 20,
        },
      }),
    );
    writeFileSync(input, `${lines.join("\n")}\n`);
    const base_url = "https://inference-api.alcf.anl.gov/resource_server/sophia/vllm/v1/batches";
    const created = await curl(
      "POST",
      base_url,
      `{
                  "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
                  "input_file": "${input}",
                  "output_folder_path": "${inProject("/eagle/argonne_tpc/path/to/your/output/folder/")}"
                }`,
    );
    expect(created.status).toBe(200);
    const batch_id = created.json.batch_id as string;
    expect(created.json.status).toBe("pending");

    let status = "";
    for (let i = 0; i < 300 && status !== "completed"; i++) {
      const got = await curl("GET", `https://inference-api.alcf.anl.gov/resource_server/v1/batches/${batch_id}`);
      expect(got.status).toBe(200);
      status = got.json.status;
      expect(["pending", "running", "completed"]).toContain(status);
      if (status !== "completed") await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe("completed");

    const all = await curl("GET", "https://inference-api.alcf.anl.gov/resource_server/v1/batches");
    expect(all.json.map((b: { batch_id: string }) => b.batch_id)).toContain(batch_id);
    const done = await curl("GET", "https://inference-api.alcf.anl.gov/resource_server/v1/batches?status=completed");
    expect(done.json.map((b: { batch_id: string }) => b.batch_id)).toEqual([batch_id]);

    const result = await curl(
      "GET",
      `https://inference-api.alcf.anl.gov/resource_server/v1/batches/${batch_id}/result`,
    );
    expect(result.status).toBe(200);
    const answers = readFileSync(result.json.results_file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(answers.map((a) => [a.custom_id, a.response.status_code])).toEqual(
      Array.from({ length: 5 }, (_, i) => [`request-${i + 1}`, 200]),
    );

    // The guide's first form (no output folder), then cancelled: the guide has no cancel yet, ours does.
    const second = await curl(
      "POST",
      base_url,
      `{
                  "model": "meta-llama/Meta-Llama-3.1-8B-Instruct",
                  "input_file": "${input}"
                }`,
    );
    expect(second.status).toBe(200);
    const cancel = await curl(
      "POST",
      `https://inference-api.alcf.anl.gov/resource_server/sophia/vllm/v1/batches/${second.json.batch_id}/cancel`,
    );
    expect(cancel.status).toBe(200);
  });
});
