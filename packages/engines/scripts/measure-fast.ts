/**
 * How many non-stream chat requests per second the simulator's `fast` profile answers: the
 * simulator runs in a child process, this process is a keep-alive client with 32 requests in
 * flight, for a bounded time and count. `pnpm --filter @switchyard/engines measure [seconds]`.
 * Only loopback traffic; it stops by itself.
 */
import { fork } from "node:child_process";
import { Agent, request } from "node:http";
import { fileURLToPath } from "node:url";
import { startSimulator } from "../src";

if (process.env.SIMULATOR_CHILD === "1") {
  const sim = await startSimulator({ model: "bench", profile: "fast", logLevel: "silent" });
  process.send?.(sim.url);
  process.on("disconnect", () => void sim.close().then(() => process.exit(0)));
} else {
  const seconds = Math.min(30, Number(process.argv[2] ?? 5));
  const maxRequests = 1_000_000;
  const concurrency = 32;
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, SIMULATOR_CHILD: "1" },
    execArgv: ["--import", "@switchyard/tsconfig/source.mjs"],
  });
  const url = new URL(await new Promise<string>((resolve) => child.once("message", (m) => resolve(String(m)))));
  const body = Buffer.from(
    JSON.stringify({ model: "bench", messages: [{ role: "user", content: "Say something nice." }], max_tokens: 32 }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const once = () =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: "/v1/chat/completions",
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  const run = async (ms: number) => {
    let done = 0;
    let failed = 0;
    const start = performance.now();
    const stopAt = start + ms;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < stopAt && done < maxRequests) {
          if ((await once()) !== 200) failed++;
          done++;
        }
      }),
    );
    return { done, failed, perSecond: (done * 1000) / (performance.now() - start) };
  };

  await run(1000); // warm-up
  const result = await run(seconds * 1000);
  console.log(
    `simulator fast profile, non-stream chat: ${Math.round(result.perSecond)} req/s ` +
      `(${result.done} requests in ${seconds}s, ${result.failed} failed, ${concurrency} in flight, keep-alive node:http client in another process)`,
  );
  agent.destroy();
  child.disconnect();
}
