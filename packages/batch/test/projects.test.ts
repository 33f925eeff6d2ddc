import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type ClusterConfig,
  parseConfigText,
  type ResolvedModel,
  type SwitchyardConfig,
  SwitchyardError,
} from "@switchyard/core";
import { openTestDatabase, type TestDatabase, testDrivers } from "@switchyard/db/testing";
import type { Scheduler } from "@switchyard/scheduler";
import { Projects } from "@switchyard/usage";
import pino from "pino";
import { Registry } from "prom-client";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchMetrics, BatchRun, BatchService, FileStore } from "../src";
import { MODEL, writeInput } from "./security/harness";

// Project allocations at batch create, on real databases: which project a batch is charged
// to, what is refused (and that it is refused before the input is looked at), and that the
// lines' usage is charged to the project.

const drivers = await testDrivers();
const logger = pino({ level: "silent" });

function labConfig(dir: string): SwitchyardConfig {
  const parsed = parseConfigText(`
batch:
  checkpointInterval: 100ms
  activePerUser: 50
clusters:
  - name: lab
    nodes: [{ name: n1, gpus: 8, role: hot }]
    frameworks: [vllm]
    batch: { allowedDirs: ["${dir}"] }
models:
  - { id: ${MODEL}, cluster: lab, framework: vllm, capabilities: [chat, batch], placement: hot, node: n1, engine: { type: simulator } }
`);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.config;
}

/** What a failed call answered: its catalogue code, status and message. */
async function refusal(call: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected a refusal").toBeInstanceOf(SwitchyardError);
  const e = error as SwitchyardError;
  return { code: e.code, status: e.status, message: e.message };
}

describe.each(drivers)("project allocations at batch create (%s)", (driver) => {
  let db: TestDatabase;
  let root: string;
  let shared: string;
  let cfg: SwitchyardConfig;
  let service: BatchService;
  let projects: Projects;
  let server: Server;
  let baseUrl: string;
  const users: Record<string, string> = {};
  let n = 0;

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), "sy-projects-"));
    shared = path.join(root, "shared");
    mkdirSync(shared);
    mkdirSync(path.join(root, "files"));
    cfg = labConfig(shared);
    db = await openTestDatabase(driver);
    const clock = { now: () => Date.now() };
    projects = new Projects(db, clock);
    const files = new FileStore(db.prisma, path.join(root, "files"));
    service = new BatchService({ db, settings: cfg.batch, files, clock, allowedDirs: () => [shared], projects });
    for (const username of ["ada", "bob", "carol"]) {
      users[username] = (await db.prisma.user.create({ data: { username } })).id;
    }
    // A model server that answers every chat request with 7 + 5 tokens.
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            id: "chatcmpl-1",
            object: "chat.completion",
            model: MODEL,
            choices: [{ index: 0, message: { role: "assistant", content: "ok" }, finish_reason: "stop" }],
            usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.close();
    await db?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const target = () => ({ model: cfg.models[0] as ResolvedModel, cluster: cfg.clusters[0] as ClusterConfig });
  /** The reference API's create, as `username`, of a file under the shared folder (which need not exist). */
  const createReference = (username: string, file: string, project?: string) =>
    service.createReference(
      users[username] as string,
      { model: MODEL, input_file: file, ...(project ? { project } : {}) },
      target,
    );
  const freshFolder = () => {
    const folder = path.join(shared, `run-${++n}`);
    mkdirSync(folder);
    return folder;
  };

  it("charges the install's open default project when none is named, and its lines' usage to it", async () => {
    const input = writeInput(path.join(freshFolder(), "in.jsonl"), 4);
    const detail = await createReference("ada", input);
    const row = await db.prisma.batch.findUniqueOrThrow({ where: { id: detail.batch_id } });
    const defaultProject = await db.prisma.project.findUniqueOrThrow({ where: { name: "default" } });
    expect(row.projectId).toBe(defaultProject.id);

    const pools: Pool[] = [];
    const scheduler = {
      deployments: () => [],
      modelOf: () => undefined,
      ensureLive: async () => ({ status: "live", queuePosition: null, etaSeconds: null, reason: null }),
      holdForBatch: async () => {},
      setBacklog: () => {},
      acquire: () => ({ deploymentId: "dep_1", baseUrl, release: () => {} }),
    } as unknown as Scheduler;
    const run = new BatchRun(detail.batch_id, {
      db,
      scheduler,
      config: cfg,
      settings: cfg.batch,
      engines: {},
      files: new FileStore(db.prisma, path.join(root, "files")),
      clock: { now: () => Date.now() },
      logger,
      metrics: new BatchMetrics(new Registry()),
      pool: (url) => {
        const pool = new Pool(url);
        pools.push(pool);
        return pool;
      },
      sharing: () => 1,
      workerId: "test-worker",
    });
    await run.run();
    await Promise.all(pools.map((p) => p.close()));
    expect((await db.prisma.batch.findUniqueOrThrow({ where: { id: detail.batch_id } })).status).toBe("completed");

    const charged = await db.prisma.usageRecord.findMany({ where: { requestId: { startsWith: detail.batch_id } } });
    expect(charged).toHaveLength(4);
    expect(charged.every((r) => r.projectId === defaultProject.id)).toBe(true);
    expect(await projects.spent(defaultProject.id)).toBe(4 * 12);
    const summary = await projects.summary("default");
    expect(summary).toMatchObject({ state: "active", tokenBudget: null, spent: 48, open: true });
  });

  it("refuses a spent budget with 429 before the input is looked at, on both front doors", async () => {
    const tight = await projects.create({
      name: "tight",
      tokenBudget: 100,
      active: true,
      open: false,
      users: [],
      groups: ["physics"],
      modelLimits: [],
    });
    await db.prisma.groupMember.create({
      data: {
        userId: users.bob as string,
        groupId: (await db.prisma.group.findUniqueOrThrow({ where: { name: "physics" } })).id,
      },
    });
    await db.prisma.usageRecord.create({
      data: {
        at: new Date(),
        requestId: "earlier",
        userId: users.bob as string,
        model: MODEL,
        clusterName: "lab",
        route: "/v1/batches",
        status: 200,
        promptTokens: 60,
        completionTokens: 40,
        latencyMs: 1,
        projectId: tight.id,
      },
    });
    // The file does not exist: a 429 (not a 400 about the path) shows it was never opened.
    const missing = path.join(shared, "never-written.jsonl");
    const reference = await refusal(createReference("bob", missing, "tight"));
    expect(reference).toMatchObject({ code: "allocation_exhausted", status: 429 });
    expect(reference.message).toBe(
      "Project 'tight' has used 100 of its 100 tokens; ask an administrator to raise the budget, or name another project with 'project'.",
    );
    const openai = await refusal(
      service.createOpenAI(
        users.bob as string,
        { input_file_id: "file-missing", endpoint: "/v1/chat/completions", completion_window: "24h", project: "tight" },
        target,
      ),
    );
    expect(openai).toMatchObject({ code: "allocation_exhausted", status: 429 });
    expect(await db.prisma.batch.count({ where: { userId: users.bob as string } })).toBe(0);

    // A per-model limit refuses the same way once the model is known.
    await projects.update({ name: "tight", tokenBudget: null, modelLimits: [{ model: MODEL, tokenLimit: 50 }] });
    const perModel = await refusal(createReference("bob", missing, "tight"));
    expect(perModel).toMatchObject({ code: "allocation_exhausted", status: 429 });
    expect(perModel.message).toContain(`100 of its 50 tokens for model ${MODEL}`);
  });

  it("asks which project when a user has several and names none (400), and tells unknown from not-yours", async () => {
    await projects.create({
      name: "closed",
      tokenBudget: null,
      active: true,
      open: false,
      users: ["ada"],
      groups: [],
      modelLimits: [],
    });
    const input = writeInput(path.join(freshFolder(), "in.jsonl"), 1);
    const several = await refusal(createReference("bob", input));
    expect(several).toMatchObject({ code: "project_required", status: 400 });
    expect(several.message).toContain("(default, tight)");
    expect(several.message).toContain("--project");
    expect(await refusal(createReference("bob", input, "nope"))).toMatchObject({
      code: "project_not_found",
      status: 404,
    });
    const notMine = await refusal(createReference("bob", input, "closed"));
    expect(notMine).toMatchObject({ code: "project_not_allowed", status: 403 });
    expect(notMine.message).toContain("Projects you may charge: default, tight");
    // Named, it goes through and is charged there.
    const made = await createReference("bob", input, "default");
    const row = await db.prisma.batch.findUniqueOrThrow({ where: { id: made.batch_id } });
    expect(row.projectId).toBe((await projects.summary("default")).id);
    await service.cancel(users.bob as string, made.batch_id);
  });

  it("refuses a project whose window has ended (403), saying when it ended", async () => {
    await projects.create({
      name: "old",
      tokenBudget: null,
      validFrom: "2020-01-01T00:00:00Z",
      validUntil: "2021-01-01T00:00:00Z",
      active: true,
      open: false,
      users: ["bob"],
      groups: [],
      modelLimits: [],
    });
    const ended = await refusal(createReference("bob", path.join(shared, "never-written.jsonl"), "old"));
    expect(ended).toMatchObject({ code: "no_active_allocation", status: 403 });
    expect(ended.message).toContain("project 'old' ended at 2021-01-01 00:00:00 UTC");
    expect(ended.message).toContain("you may charge default, tight");
  });

  it("refuses a user whose only project is switched off (403), before reading the input", async () => {
    await projects.update({ name: "default", active: false });
    try {
      const none = await refusal(createReference("carol", path.join(shared, "never-written.jsonl")));
      expect(none).toMatchObject({ code: "no_active_allocation", status: 403 });
      expect(none.message).toBe(
        "You have no active allocation to charge this batch to: project 'default' is switched off. Ask an administrator to extend or reactivate one, or to add you to another.",
      );
    } finally {
      await projects.update({ name: "default", active: true });
    }
    // Back on, the same user's batch is accepted.
    const input = writeInput(path.join(freshFolder(), "in.jsonl"), 1);
    const made = await createReference("carol", input);
    await service.cancel(users.carol as string, made.batch_id);
  });
});
