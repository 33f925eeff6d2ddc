import { openTestDatabase, redisAvailable, TEST_REDIS_URL, testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLink } from "../../src";
import { addUser, type Harness, PASSWORD, post, startHarness } from "../harness";

const drivers = await testDrivers();
// The sign-in counters live in the shared Redis for 15 minutes: each run counts in its own keys.
const RUN = `test-${process.pid}-${Date.now().toString(36)}:`;
const withRedis = await redisAvailable();

/** The password grant as a client behind the proxy sees it, naming its address in X-Forwarded-For. */
async function signIn(h: Harness, username: string, password: string, forwardedFor?: string) {
  const res = await fetch(`${h.url}/auth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
    },
    body: new URLSearchParams({ grant_type: "password", username, password }),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as any };
}

function tally(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const status of statuses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

describe.each(drivers)("sign-in throttling on %s", (driver) => {
  let direct: Harness;
  let proxied: Harness;
  beforeAll(async () => {
    direct = await startHarness(driver);
    // The same service behind one trusted reverse proxy (which appends the client's address).
    proxied = await startHarness(driver, { db: direct.db, clock: direct.clock, trustProxy: 1 });
    for (const name of ["ada", "root", "eve"]) await addUser(direct, name, { admin: name === "root" });
  });
  afterAll(async () => {
    await proxied?.close();
    await direct?.close();
  });

  it("a forged X-Forwarded-For is ignored when no proxy is trusted: rotating it does not reset the count", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await signIn(direct, "eve", "guess", `192.0.2.${i + 1}`)).status);
    expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429]);
  });

  it("25 concurrent wrong passwords: at most 5 are checked, the rest answer 429 without a check", async () => {
    const answers = await Promise.all(Array.from({ length: 25 }, () => signIn(direct, "ada", "guess")));
    const counts = tally(answers.map((a) => a.status));
    expect(counts[400] ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(5);
    expect((counts[400] ?? 0) + (counts[429] ?? 0)).toBe(25);
    const refused = answers.find((a) => a.status === 429);
    expect(refused?.body).toMatchObject({ error: "too_many_attempts" });
    expect(Number(refused?.retryAfter)).toBeGreaterThan(0);
  });

  it("25 wrong passwords for the admin from one address behind the proxy do not lock the admin out from another", async () => {
    for (let i = 0; i < 25; i++) await signIn(proxied, "root", "guess", "203.0.113.7");
    // The attacker's address is locked out of the account...
    expect((await signIn(proxied, "root", PASSWORD, "203.0.113.7")).status).toBe(429);
    // ...its owner at their own address is not, and neither is anyone else.
    const owner = await signIn(proxied, "root", PASSWORD, "198.51.100.20");
    expect(owner.status, JSON.stringify(owner.body)).toBe(200);
    expect((await signIn(proxied, "ada", PASSWORD, "198.51.100.21")).status).toBe(200);
  });

  it("25 right passwords from one address are all served: each attempt counted before the check is given back", async () => {
    // More than the per-user (5) and per-address (20) counts: a success must refund both.
    const statuses: number[] = [];
    for (let i = 0; i < 25; i++) statuses.push((await signIn(proxied, "ada", PASSWORD, "198.51.100.50")).status);
    expect(tally(statuses)).toEqual({ 200: 25 });
  });
});

describe.runIf(withRedis)("sign-in throttling shared through Redis", () => {
  const driver = drivers.includes("postgres") ? "postgres" : "pglite";
  let a: Harness;
  let b: Harness;
  const clients: RedisLink[] = [];
  beforeAll(async () => {
    clients.push(
      await RedisLink.connect(TEST_REDIS_URL, { keyPrefix: RUN }),
      await RedisLink.connect(TEST_REDIS_URL, { keyPrefix: RUN }),
    );
    const db = await openTestDatabase(driver);
    a = await startHarness(driver, { db, redis: clients[0] });
    b = await startHarness(driver, { db, redis: clients[1], clock: a.clock });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await a?.db.close();
    for (const client of clients) await client.close();
  });

  it("25 concurrent wrong passwords spread over two instances: at most 5 are checked", async () => {
    // A fresh name per run: the counters live in the shared Redis.
    const victim = `victim-${Date.now().toString(36)}`;
    await addUser(a, victim);
    const answers = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        post(`${(i % 2 ? a : b).url}/auth/token`, {
          grant_type: "password",
          username: victim,
          password: "guess",
        }),
      ),
    );
    const counts = tally(answers.map((r) => r.status));
    expect(counts[400] ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(5);
    expect(counts[429] ?? 0).toBeGreaterThanOrEqual(20);
  });
});
