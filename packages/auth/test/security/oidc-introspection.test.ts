import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { call, type Harness, startHarness } from "../harness";
import { startTestIdp, type TestIdp } from "../oidc-provider";

const drivers = await testDrivers();
// oidc-provider warns about Node 20 and its development defaults; the tests do not need those lines.
vi.spyOn(console, "warn").mockImplementation(() => {});

/**
 * A provider whose RFC 7662 endpoint answers every token as active for `mallory` but leaves out
 * `iss` (as a sloppy or misconfigured provider does). oidc-provider always names itself, so this
 * small server stands in for such a provider.
 */
async function startSilentIssuer(): Promise<{ issuer: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ active: true, sub: "mallory", aud: "switchyard", exp: 4_102_444_800 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe.each(drivers)("OIDC introspection on %s", (driver) => {
  let idp: TestIdp;
  let silent: Awaited<ReturnType<typeof startSilentIssuer>>;
  let h: Harness;
  beforeAll(async () => {
    [idp, silent] = await Promise.all([startTestIdp(), startSilentIssuer()]);
    const introspection = (issuer: string, endpoint: string) => ({
      issuer,
      audience: "switchyard",
      introspection: { endpoint, clientId: "switchyard", clientSecretEnv: "OIDC_INTROSPECTION_SECRET" },
    });
    h = await startHarness(driver, {
      settings: {
        oidc: [
          introspection(idp.issuer, `${idp.issuer}/token/introspection`),
          introspection(silent.issuer, `${silent.issuer}/introspect`),
        ],
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await Promise.all([idp?.close(), silent?.close()]);
  });

  it("an active opaque token minted for no audience (any client of the provider can get one) is refused", async () => {
    const token = await idp.audiencelessToken("dave");
    const res = await call(h, "/v1/me", token);
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "invalid_token" });
    expect(res.body.error.message).toMatch(/audience 'switchyard'/);
    expect(await h.db.prisma.user.count({ where: { username: "dave" } })).toBe(0);
  });

  it("an active token whose introspection does not name its issuer is refused", async () => {
    const res = await call(h, "/v1/me", "opaque-token-the-silent-provider-calls-active");
    expect(res.status).toBe(401);
    expect(res.body.error).toMatchObject({ code: "invalid_token" });
    expect(await h.db.prisma.user.count({ where: { username: "mallory" } })).toBe(0);
  });

  it("still accepts an opaque token issued for Switchyard", async () => {
    const res = await call(h, "/v1/me", await idp.opaqueToken("dave"));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ username: "dave", authenticated_via: "oidc" });
  });
});
