import {
  openTestDatabase,
  type RedisCut,
  redisAvailable,
  startRedisCut,
  TEST_REDIS_URL,
  testDrivers,
} from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisLink } from "../src";
import { addUser, call, type Harness, passwordGrant, startHarness } from "./harness";

// The sign-in counters live in the shared Redis for 15 minutes: each run counts in its own keys.
const RUN = `test-${process.pid}-${Date.now().toString(36)}:`;
const withRedis = await redisAvailable();
const drivers = await testDrivers();

describe.runIf(withRedis)("two instances sharing PostgreSQL-or-PGlite and Redis", () => {
  const driver = drivers.includes("postgres") ? "postgres" : "pglite";
  let a: Harness;
  let b: Harness;
  let redisA: RedisLink;
  let redisB: RedisLink;
  const user = `redis-${Date.now().toString(36)}`;

  beforeAll(async () => {
    redisA = await RedisLink.connect(TEST_REDIS_URL, { keyPrefix: RUN });
    redisB = await RedisLink.connect(TEST_REDIS_URL, { keyPrefix: RUN });
    const db = await openTestDatabase(driver);
    a = await startHarness(driver, { db, redis: redisA, settings: { principalCacheTtl: "1h" } });
    b = await startHarness(driver, { db, redis: redisB, settings: { principalCacheTtl: "1h" }, clock: a.clock });
    await addUser(a, user);
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await a.db.close();
    await redisA.close();
    await redisB.close();
  });

  it("a key revoked on one instance stops working on the other at once, despite a long cache TTL", async () => {
    const token = String((await passwordGrant(a, user)).body.access_token);
    const created = await call(a, "/v1/keys", token, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    const key = String(created.body.key);
    expect((await call(b, "/v1/protected", key)).status).toBe(200); // now cached on b for an hour
    await call(a, `/v1/keys/${created.body.id}`, token, { method: "DELETE" });
    // The invalidation travels through Redis pub/sub; give it a moment.
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 25));
      status = (await call(b, "/v1/protected", key)).status;
    }
    expect(status).toBe(401);
  });

  it("counts failed sign-ins across instances", async () => {
    const victim = `${user}-t`;
    await addUser(a, victim);
    for (let i = 0; i < 3; i++) await passwordGrant(a, victim, "wrong");
    for (let i = 0; i < 2; i++) await passwordGrant(b, victim, "wrong");
    const blocked = await passwordGrant(a, victim);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe.runIf(withRedis)("two instances when Redis is lost", () => {
  const driver = drivers.includes("postgres") ? "postgres" : "pglite";
  let a: Harness;
  let b: Harness;
  let redis: RedisCut;
  let linkA: RedisLink;
  let linkB: RedisLink;
  const user = `cut-${Date.now().toString(36)}`;

  beforeAll(async () => {
    redis = await startRedisCut();
    linkA = await RedisLink.connect(redis.url);
    linkB = await RedisLink.connect(redis.url);
    const db = await openTestDatabase(driver);
    a = await startHarness(driver, { db, redis: linkA, settings: { principalCacheTtl: "1h" } });
    b = await startHarness(driver, { db, redis: linkB, settings: { principalCacheTtl: "1h" }, clock: a.clock });
    await addUser(a, user);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await a?.db.close();
    await linkA?.close();
    await linkB?.close();
    await redis?.close();
  });

  const until = async (what: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!what()) {
      if (Date.now() > deadline) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const newKey = async (token: string) => {
    const created = await call(a, "/v1/keys", token, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    return { id: String(created.body.id), key: String(created.body.key) };
  };

  it("a key revoked on one instance is refused on the other a second later, through the database", async () => {
    const token = String((await passwordGrant(a, user)).body.access_token);
    const { id, key } = await newKey(token);
    expect((await call(b, "/v1/protected", key)).status).toBe(200); // cached on b for an hour
    redis.cut();
    await until(() => !linkA.up && !linkB.up);

    // Revoking works without Redis, and so does signing in (the throttle counts in memory).
    const started = Date.now();
    expect((await call(a, `/v1/keys/${id}`, token, { method: "DELETE" })).status).toBeLessThan(300);
    const signedIn = await passwordGrant(b, user);
    expect(signedIn.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(2000);

    // The revocation cannot travel through Redis: b trusts its cached entry one second at most.
    a.clock.advance(1000);
    expect((await call(b, "/v1/protected", key)).status).toBe(401);
    expect((await call(b, "/v1/protected", String(signedIn.body.access_token))).status).toBe(200);

    // Redis back: revocations travel through it again, at once, whatever the cache TTL.
    redis.restore();
    await until(() => linkA.up && linkB.up);
    const again = await newKey(token);
    a.clock.advance(1000); // past the short-lived second after Redis came back
    expect((await call(b, "/v1/protected", again.key)).status).toBe(200);
    await call(a, `/v1/keys/${again.id}`, token, { method: "DELETE" });
    let status = 200;
    for (let i = 0; i < 20 && status === 200; i++) {
      await new Promise((r) => setTimeout(r, 25));
      status = (await call(b, "/v1/protected", again.key)).status;
    }
    expect(status).toBe(401);
  });

  it("a Redis that stops answering costs a request a fifth of a second at most, and is dropped", async () => {
    await until(() => linkA.up && linkB.up);
    redis.stall();
    // Each sign-in's throttle waits for Redis no longer than the command timeout, then counts in memory.
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      expect((await passwordGrant(a, user)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
    }
    // Pings go unanswered: the connection is dropped and reconnects; it works again once Redis answers.
    await until(() => !linkA.up);
    redis.restore();
    await until(() => linkA.up && linkB.up);
    expect((await passwordGrant(a, user)).status).toBe(200);
  });
});
