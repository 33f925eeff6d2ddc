import { testDrivers } from "@switchyard/db/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { addUser, type Harness, passwordGrant, post, startHarness } from "../harness";

const drivers = await testDrivers();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** What an anonymous client and ordinary use leave behind, and what must survive a cleanup. */
async function leaveRows(h: Harness) {
  // Rows that end: two device codes (10 min), a session (7 days + a day's grace), a revocation (48 h).
  await post(`${h.url}/auth/device/code`, {});
  await post(`${h.url}/auth/device/code`, {});
  const old = await passwordGrant(h, "ada");
  await post(`${h.url}/auth/revoke`, { token: String(old.body.access_token) });
  h.clock.advance(8 * DAY + HOUR);
  // Rows still in use at that time.
  await post(`${h.url}/auth/device/code`, {});
  const fresh = await passwordGrant(h, "ada");
  await post(`${h.url}/auth/revoke`, { token: String(fresh.body.access_token) });
  return { liveRefreshToken: String(fresh.body.refresh_token) };
}

async function counts(h: Harness) {
  const db = h.db.prisma;
  return {
    deviceAuthorizations: await db.deviceAuthorization.count(),
    refreshTokens: await db.refreshToken.count(),
    revokedTokens: await db.revokedToken.count(),
  };
}

describe.each(drivers)("expired auth rows on %s", (driver) => {
  let a: Harness;
  let b: Harness;
  beforeAll(async () => {
    a = await startHarness(driver);
    b = await startHarness(driver, { db: a.db, clock: a.clock });
    await addUser(a, "ada");
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("abandoned device codes, ended sessions and old revocations are deleted by two instances at once; live rows stay", async () => {
    const { liveRefreshToken } = await leaveRows(a);
    expect(await counts(a)).toEqual({ deviceAuthorizations: 3, refreshTokens: 2, revokedTokens: 2 });
    // Two instances clean up at the same moment: each row goes once, nothing fails.
    const reports = await Promise.all([a.auth.cleanup.run(), b.auth.cleanup.run()]);
    const removed = (key: keyof (typeof reports)[0]) => reports.reduce((sum, r) => sum + r[key], 0);
    expect({
      deviceAuthorizations: removed("deviceAuthorizations"),
      refreshTokens: removed("refreshTokens"),
      revokedTokens: removed("revokedTokens"),
    }).toEqual({ deviceAuthorizations: 2, refreshTokens: 1, revokedTokens: 1 });
    expect(await counts(a)).toEqual({ deviceAuthorizations: 1, refreshTokens: 1, revokedTokens: 1 });
    // What is left still works.
    const refreshed = await post(`${a.url}/auth/token`, {
      grant_type: "refresh_token",
      refresh_token: liveRefreshToken,
    });
    expect(refreshed.status).toBe(200);
  });

  it("keeps an ended session a day longer, so a late refresh still hears 'login required'", async () => {
    const login = await passwordGrant(a, "ada");
    a.clock.advance(7 * DAY + HOUR);
    await a.auth.cleanup.run();
    const late = await post(`${a.url}/auth/token`, {
      grant_type: "refresh_token",
      refresh_token: String(login.body.refresh_token),
    });
    expect(String(late.body.error_description)).toMatch(/login required/);
  });
});

describe("the cleanup timer", () => {
  let h: Harness;
  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    h = await startHarness("pglite", { settings: { cleanupInterval: "1h" } });
    await addUser(h, "ada");
  });
  afterEach(() => vi.useRealTimers());
  afterAll(() => h?.close());

  it("runs by itself every auth.cleanupInterval", async () => {
    await post(`${h.url}/auth/device/code`, {});
    h.clock.advance(HOUR);
    vi.advanceTimersByTime(HOUR - 1000);
    expect((await counts(h)).deviceAuthorizations).toBe(1);
    vi.advanceTimersByTime(1000);
    await h.auth.cleanup.stop(); // waits for the run the timer started
    expect((await counts(h)).deviceAuthorizations).toBe(0);
  });
});
