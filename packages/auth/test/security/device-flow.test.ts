import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, type Harness, PASSWORD, post, startHarness } from "../harness";

const drivers = await testDrivers();

/** Anyone on the network may start a device login; each start is a row in the database. */
describe.each(drivers)("device login abuse on %s", (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(driver, { settings: { deviceCodeRequests: { max: 3, window: "10m" } } });
    await addUser(h, "ada");
  });
  afterAll(() => h?.close());

  const rows = () => h.db.prisma.deviceAuthorization.count();

  it("a 60 KB scope is refused with invalid_scope and stores nothing", async () => {
    const before = await rows();
    const res = await post(`${h.url}/auth/device/code`, { client_id: "sy-cli", scope: "x".repeat(60_000) });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "invalid_scope" });
    expect(String(res.body.error_description).length).toBeLessThan(200);
    expect(await rows()).toBe(before);
    // The same goes for the password grant, which stores its scope with the session.
    const grant = await post(`${h.url}/auth/token`, {
      grant_type: "password",
      username: "ada",
      password: PASSWORD,
      scope: "inference pwned",
    });
    expect(grant).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
  });

  it("device codes requested in a loop from one address: 429 with Retry-After after the limit, no more rows", async () => {
    const before = await rows();
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await post(`${h.url}/auth/device/code`, { scope: "openid inference" }));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429, 429]);
    expect(answers[3]?.body).toMatchObject({ error: "too_many_requests" });
    expect(Number(answers[3]?.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await rows()).toBe(before + 3);
    // The codes it did hand out work as before, with the scope as asked.
    const stored = await h.db.prisma.deviceAuthorization.findFirst({ orderBy: { createdAt: "desc" } });
    expect(stored?.scope).toBe("openid inference");
  });
});
