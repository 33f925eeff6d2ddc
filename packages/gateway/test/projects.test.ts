import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatewayHarness, startGatewayHarness } from "./harness";

/** `gateway.chargeProjects: true`: interactive requests are charged to a project, and refused as batches are. */
describe("interactive requests charged to projects", () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGatewayHarness({ gateway: { chargeProjects: true } });
  });
  afterAll(() => h?.close());

  const chat = (model: string, project?: string) =>
    fetch(`${h.url}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${h.key}`,
        "content-type": "application/json",
        ...(project ? { "x-switchyard-project": project } : {}),
      },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 8 }),
    });

  it("charges the only project, asks which one among several, and refuses a spent one before the model sees it", async () => {
    const prisma = h.db.prisma;
    const defaultProject = await prisma.project.findUniqueOrThrow({ where: { name: "default" } });
    expect((await chat("org/chat")).status).toBe(200);
    await h.usageRows();
    const rows = await prisma.usageRecord.findMany({ where: { userId: h.userId } });
    expect(rows.map((r) => r.projectId)).toEqual([defaultProject.id]);

    const tight = await prisma.project.create({
      data: { name: "tight", tokenBudget: 10n, members: { create: { userId: h.userId } } },
    });
    await prisma.usageRecord.create({
      data: {
        at: new Date(),
        requestId: "earlier",
        userId: h.userId,
        model: "org/fast",
        clusterName: "lab",
        route: "/v1/chat/completions",
        status: 200,
        promptTokens: 10,
        latencyMs: 1,
        projectId: tight.id,
      },
    });
    const several = await chat("org/fast");
    expect(several.status).toBe(400);
    expect(((await several.json()) as { error: { code: string; message: string } }).error).toMatchObject({
      code: "project_required",
      message: expect.stringContaining("(default, tight)"),
    });
    const spent = await chat("org/fast", "tight");
    expect(spent.status).toBe(429);
    expect(((await spent.json()) as { error: { code: string } }).error.code).toBe("allocation_exhausted");
    const named = await chat("org/fast", "default");
    expect(named.status).toBe(200);
    await h.usageRows();
    const charged = await prisma.usageRecord.findMany({
      where: { userId: h.userId, model: "org/fast", requestId: { not: "earlier" } },
    });
    // Only the request that reached the model was recorded, charged to the project it named.
    expect(charged.map((r) => [r.status, r.projectId])).toEqual([[200, defaultProject.id]]);
  });
});
