import { testDrivers } from "@switchyard/db/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../harness";
import { EventStream, serveControlPlane } from "./http";

const drivers = await testDrivers();
const LIMIT = 3;
const failed = (text: string) => text.includes("event: serialized-error");

/** The dashboard's live feed (a tRPC subscription over server-sent events), as a hostile user holds it open. */
describe.each(drivers)("control-plane event streams on %s", (driver) => {
  let h: Harness;
  let server: Awaited<ReturnType<typeof serveControlPlane>>;
  const open: EventStream[] = [];
  const stream = async (credential: string) => {
    const s = await EventStream.open(server.url, credential);
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    h = await startHarness(driver, {
      config: { controlPlane: { eventStreamsPerUser: LIMIT } },
      auth: { principalCacheTtl: "1s" },
    });
    server = await serveControlPlane(h);
  });
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  /** A deployment change every stream of a user who may see org/dyn should carry. */
  async function change(): Promise<void> {
    const admin = await h.as(h.tokens.admin);
    await admin.deployments.start({ cluster: "lab", model: "org/dyn" });
    await admin.deployments.stop({ cluster: "lab", model: "org/dyn" });
  }

  it("a stream opened with an API key that is then revoked ends at once with 401, and carries nothing more", async () => {
    const key = await h.key("ada", ["inference"]);
    const feed = await stream(key);
    expect(feed.status).toBe(200);
    expect(await feed.readUntil((t) => t.includes("event: connected"))).toBe(true);
    const keyId = (await h.db.prisma.apiKey.findFirstOrThrow({ where: { prefix: key.slice(0, 8) } })).id;
    await (await h.as(h.tokens.user)).keys.revoke({ id: keyId });
    expect(await feed.readUntil(failed, 5000), feed.received).toBe(true);
    expect(feed.received).toMatch(/"code":"UNAUTHORIZED"/);
    expect(feed.received).toMatch(/revoked/);
    await change();
    await feed.readUntil((t) => t.includes('"to":"queued"'), 500);
    expect(feed.received).not.toMatch(/"to":"queued"/);
  });

  it("a key revoked behind the server's back (straight in the database) ends its stream within the cache TTL", async () => {
    const key = await h.key("ada", ["inference"]);
    const feed = await stream(key);
    expect(await feed.readUntil((t) => t.includes("event: connected"))).toBe(true);
    await h.db.prisma.apiKey.updateMany({ where: { prefix: key.slice(0, 8) }, data: { revokedAt: new Date() } });
    expect(await feed.readUntil(failed, 10_000), feed.received).toBe(true);
    expect(feed.received).toMatch(/"code":"UNAUTHORIZED"/);
  });

  it(`200 streams from one user: beyond ${LIMIT} each is refused with 429 too_many_event_streams`, async () => {
    const mine: EventStream[] = [];
    for (let i = 0; i < LIMIT; i++) mine.push(await stream(h.tokens.user));
    for (const s of mine) expect(await s.readUntil((t) => t.includes("event: connected"))).toBe(true);
    const extra = await stream(h.tokens.user);
    expect(await extra.readUntil(failed, 5000), extra.received).toBe(true);
    expect(extra.received).toMatch(/"code":"TOO_MANY_REQUESTS"/);
    expect(extra.received).toMatch(/"code":"too_many_event_streams"/);
    expect(extra.received).toMatch(new RegExp(`the limit is ${LIMIT}`));

    // Another user is not affected, and the user's own streams keep working.
    const someoneElse = await stream(h.tokens.member);
    await change();
    expect(await someoneElse.readUntil((t) => t.includes('"to":"queued"'))).toBe(true);
    expect(await mine[0]!.readUntil((t) => t.includes('"to":"queued"'))).toBe(true);

    // Closing one frees its place.
    mine[0]!.close();
    let again: EventStream | undefined;
    for (let attempt = 0; attempt < 10 && !again; attempt++) {
      const s = await stream(h.tokens.user);
      await change();
      const carried = await s.readUntil((t) => t.includes('"to":"queued"') || failed(t));
      if (carried && !failed(s.received)) again = s;
      else s.close();
    }
    expect(again, "a place after closing a stream").toBeDefined();
  });
});
