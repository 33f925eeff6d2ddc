import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, startHarness } from "./harness";

const drivers = await testDrivers();

/** Projects (allocations) through the control plane: what admins change, and the audit trail it leaves. */
describe.each(drivers)("projects through the control plane on %s", (driver) => {
  let h: Harness;
  let admin: Awaited<ReturnType<Harness["as"]>>;

  beforeAll(async () => {
    h = await startHarness(driver);
    admin = await h.as(h.tokens.admin);
  });
  afterAll(() => h?.close());

  it("lists the install's open default project, then creates, changes and staffs one, each change audited", async () => {
    expect(await admin.projects.list()).toEqual([
      expect.objectContaining({ name: "default", open: true, state: "active", tokenBudget: null, spent: 0 }),
    ]);

    const created = await admin.projects.create({
      name: "climate",
      description: "INCITE 2027",
      tokenBudget: 1_000_000,
      validFrom: "2027-01-01T00:00:00Z",
      validUntil: "2028-01-01T00:00:00Z",
      users: ["ada"],
      groups: ["physics"],
      modelLimits: [{ model: "org/hot", tokenLimit: 250_000 }],
    });
    expect(created).toMatchObject({
      name: "climate",
      open: false,
      active: true,
      state: "not_started",
      tokenBudget: 1_000_000,
      spent: 0,
      validFrom: "2027-01-01T00:00:00.000Z",
      members: { users: ["ada"], groups: ["physics"] },
      modelLimits: [{ model: "org/hot", tokenLimit: 250_000, spent: 0 }],
    });
    await expectError(admin.projects.create({ name: "climate" }), "CONFLICT", { switchyard: "already_exists" });
    await expectError(
      admin.projects.create({
        name: "backwards",
        validFrom: "2027-01-01T00:00:00Z",
        validUntil: "2026-01-01T00:00:00Z",
      }),
      "BAD_REQUEST",
    );
    await expectError(admin.projects.update({ name: "nope", active: false }), "NOT_FOUND", {
      switchyard: "resource_not_found",
    });

    const updated = await admin.projects.update({ name: "climate", tokenBudget: 2_000_000, active: false });
    expect(updated).toMatchObject({ tokenBudget: 2_000_000, active: false, state: "inactive" });
    await admin.projects.addMember({ project: "climate", username: "grace" });
    const after = await admin.projects.removeMember({ project: "climate", group: "physics" });
    expect(after.members).toEqual({ users: ["ada", "grace"], groups: [] });
    await expectError(admin.projects.removeMember({ project: "climate", group: "physics" }), "NOT_FOUND");
    await expectError(admin.projects.addMember({ project: "climate", username: "nobody" }), "NOT_FOUND");

    const { entries } = await admin.audit.list({ action: "projects." });
    expect(entries.map((e) => [e.action, e.actor.username, e.target.id, e.details])).toEqual([
      ["projects.removeMember", "root", "climate", { group: "physics" }],
      ["projects.addMember", "root", "climate", { username: "grace" }],
      [
        "projects.update",
        "root",
        "climate",
        { tokenBudget: { from: 1_000_000, to: 2_000_000 }, active: { from: true, to: false } },
      ],
      [
        "projects.create",
        "root",
        "climate",
        expect.objectContaining({ tokenBudget: 1_000_000, members: { users: ["ada"], groups: ["physics"] } }),
      ],
    ]);
  });
});
