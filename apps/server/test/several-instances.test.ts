import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPostgresDatabase, testDrivers } from "@switchyard/db/testing";
import { freePort } from "@switchyard/scheduler";
import { afterAll, describe, expect, it } from "vitest";
import { tempDataDir } from "./helpers";

const BIN = fileURLToPath(new URL("../bin/switchyard-source.mjs", import.meta.url));
const drivers = await testDrivers();

/** docs/operations.md's "Running several instances": its config and its commands, as written. */
function theExample(): { yaml: string; commands: string[] } {
  const doc = readFileSync(new URL("../../../docs/operations.md", import.meta.url), "utf8");
  const section = doc.slice(doc.indexOf("## Running several instances"));
  const body = section.slice(0, section.indexOf("\n## ", 5));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(body)?.[1];
  const sh = /```sh\n([\s\S]*?)```/.exec(body)?.[1];
  if (!yaml || !sh) throw new Error("the section lost its yaml or sh block");
  return { yaml, commands: sh.trim().split("\n") };
}

interface Instance {
  line: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const json = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Record<string, any> };
};

describe.runIf(drivers.includes("postgres"))("the operations guide's several instances, run as written", () => {
  const instances: Instance[] = [];
  afterAll(async () => {
    for (const { child } of instances) child.kill("SIGTERM");
    await Promise.all(instances.map((i) => i.exited));
  });

  it("two gateways, a scheduler with a standby, a batch worker: tokens cross, the standby takes over", {
    timeout: 180_000,
  }, async () => {
    const { yaml, commands } = theExample();
    const dir = tempDataDir();
    const pg = await createPostgresDatabase();
    // The one line the guide says to change without Slurm; paths and ports are this test's own.
    const slurmLine = yaml.split("\n").find((l) => l.includes("launcher: { type: slurm"));
    expect(slurmLine, "the example uses Slurm").toBeDefined();
    const shared = path.join(dir, "shared");
    mkdirSync(path.join(shared, "switchyard", "batches"), { recursive: true });
    const config = path.join(dir, "switchyard.yaml");
    writeFileSync(
      config,
      yaml
        .replace(slurmLine as string, (slurmLine as string).replace(/launcher: \{[^}]*\}/, "launcher: { type: local }"))
        .replaceAll("/shared/", `${shared}/`),
    );
    const ports = new Map<string, number>();
    const local = async (line: string) => {
      let out = line.replaceAll("/var/lib/switchyard/", `${dir}/`);
      for (const [port] of line.matchAll(/\b(8\d{3}|9\d{3})\b/g)) {
        if (!ports.has(port)) ports.set(port, await freePort());
        out = out.replace(port, String(ports.get(port)));
      }
      return out;
    };
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      SWITCHYARD_LOG_FORMAT: "json",
      SWITCHYARD_LOG_LEVEL: "warn",
      // One event loop per gateway: the commands' default (a worker per core) would start four
      // gateway processes on a 2-core CI machine; workers have their own test.
      SWITCHYARD_WORKERS: "1",
    };
    const ownValues: Record<string, string> = { DATABASE_URL: pg.url, SWITCHYARD_CONFIG: config };
    try {
      for (const raw of commands) {
        const line = await local(raw.trim());
        const exported = /^export (\w+)=(\S+)$/.exec(line);
        if (exported) {
          const [, name, value] = exported as unknown as [string, string, string];
          env[name] = ownValues[name] ?? value;
          continue;
        }
        const words = line.replace(/\s*&$/, "").split(/\s+/);
        expect(words[0], line).toBe("switchyard");
        const child = spawn(process.execPath, [BIN, ...words.slice(1)], { env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr?.on("data", (d) => (stderr += d));
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        if (!line.endsWith("&")) {
          expect(await exited, `${line}: ${stderr}`).toBe(0);
          continue;
        }
        instances.push({ line, child, exited, stderr: () => stderr });
      }
      const at = (port: string) => `http://127.0.0.1:${ports.get(port)}`;
      const [scheduler1, scheduler2, gateway1, gateway2, batch] = ["9101", "9102", "8081", "8082", "9201"].map(at) as [
        string,
        string,
        string,
        string,
        string,
      ];
      const all = [scheduler1, scheduler2, gateway1, gateway2, batch];
      for (const url of all) {
        await poll(`${url}/ready`, async () => {
          const exitedEarly = instances.find((i) => i.child.exitCode !== null);
          if (exitedEarly) throw new Error(`${exitedEarly.line} exited: ${exitedEarly.stderr()}`);
          return (await fetch(`${url}/ready`)).status === 200 ? true : undefined;
        }).catch((error) => {
          throw new Error(`${error.message}\n${instances.map((i) => `${i.line}\n${i.stderr()}`).join("\n")}`);
        });
      }

      // /health says what runs where: one scheduler leads, the other stands by.
      const health = await Promise.all(all.map(async (url) => (await json(`${url}/health`)).body));
      expect(health.map((h) => h.roles)).toEqual([["scheduler"], ["scheduler"], ["gateway"], ["gateway"], ["batch"]]);
      expect(
        health
          .slice(0, 2)
          .map((h) => h.scheduler.leader)
          .sort(),
      ).toEqual([false, true]);
      expect(health[2]).not.toHaveProperty("scheduler");
      expect(health[4]).toMatchObject({ status: "ok", role: "batch-worker", running: [] });

      // A token from one gateway is accepted by the other, with no issuer configured.
      const grant = await json(`${gateway1}/auth/token`, {
        method: "POST",
        body: new URLSearchParams({
          grant_type: "password",
          username: "admin",
          password: env.SWITCHYARD_ADMIN_PASSWORD!,
        }),
      });
      const token = String(grant.body.access_token);
      const auth = { authorization: `Bearer ${token}` };
      const me = await json(`${gateway2}/v1/me`, { headers: auth });
      expect(me.status, JSON.stringify(me.body)).toBe(200);
      expect(me.body).toMatchObject({ username: "admin" });
      // One issuer for both (stored by whichever started first); each links to itself.
      const [discovery1, discovery2] = await Promise.all(
        [gateway1, gateway2].map(async (url) => (await json(`${url}/.well-known/openid-configuration`)).body),
      );
      expect(discovery2!.issuer).toBe(discovery1!.issuer);
      expect([gateway1, gateway2]).toContain(discovery1!.issuer);
      expect(discovery2).toMatchObject({
        token_endpoint: `${gateway2}/auth/token`,
        jwks_uri: `${gateway2}/.well-known/jwks.json`,
      });
      const device = await json(`${gateway2}/auth/device/code`, {
        method: "POST",
        body: new URLSearchParams({ client_id: "sy-cli" }),
      });
      expect(device.body.verification_uri).toBe(`${gateway2}/device`);

      // The hot model, launched by the leading scheduler, answers through either gateway.
      const chat = (gateway: string) =>
        json(`${gateway}/v1/chat/completions`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ model: "org/demo", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }),
        });
      const answered = await poll("org/demo to answer", async () => {
        const res = await chat(gateway2);
        return res.status === 200 ? res : undefined;
      });
      expect(answered.body.object).toBe("chat.completion");

      // The leader stops: the standby leads, and the model answers again through the gateways.
      const leaderIndex = health[0]!.scheduler.leader ? 0 : 1;
      const leader = instances[leaderIndex]!;
      const standby = [scheduler1, scheduler2][1 - leaderIndex]!;
      leader.child.kill("SIGTERM");
      expect(await leader.exited).toBe(0);
      await poll(
        "the standby to lead",
        async () => ((await json(`${standby}/health`)).body.scheduler.leader === true ? true : undefined),
        20_000,
      );
      const again = await poll("org/demo to answer after the takeover", async () => {
        const res = await chat(gateway1);
        return res.status === 200 ? res : undefined;
      });
      expect(again.body.object).toBe("chat.completion");
    } finally {
      for (const { child } of instances) child.kill("SIGTERM");
      await Promise.all(instances.map((i) => i.exited));
      instances.length = 0;
      await pg.drop();
    }
  });
});
