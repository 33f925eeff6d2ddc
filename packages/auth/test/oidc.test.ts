import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { call, type Harness, startHarness } from "./harness";
import { startTestIdp, type TestIdp } from "./oidc-provider";

const drivers = await testDrivers();
// oidc-provider warns about Node 20 and its development defaults; the tests do not need those lines.
vi.spyOn(console, "warn").mockImplementation(() => {});

describe.each(drivers)("tokens from an external OIDC provider on %s", (driver) => {
  let idp: TestIdp;
  let h: Harness;
  beforeAll(async () => {
    idp = await startTestIdp();
    h = await startHarness(driver, {
      settings: {
        oidc: [
          {
            issuer: idp.issuer,
            audience: "switchyard",
            introspection: {
              endpoint: `${idp.issuer}/token/introspection`,
              clientId: "switchyard",
              clientSecretEnv: "OIDC_INTROSPECTION_SECRET",
            },
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await idp.close();
  });

  it("accepts a JWT verified against the IdP's JWKS, creating the user with the claim's groups", async () => {
    const token = await idp.jwtToken("carol");
    const me = await call(h, "/v1/me", token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      username: "carol",
      authenticated_via: "oidc",
      issuer: idp.issuer,
      groups: ["auroragpt", "physics"],
    });
    const user = await h.db.prisma.user.findUniqueOrThrow({ where: { username: "carol" } });
    expect(user).toMatchObject({ issuer: idp.issuer, subject: "carol", passwordHash: null });
  });

  it("keeps groups an admin gave while syncing the ones from the claim", async () => {
    const carol = await h.db.prisma.user.findUniqueOrThrow({ where: { username: "carol" } });
    const extra = await h.db.prisma.group.create({ data: { name: "hand-picked" } });
    await h.db.prisma.groupMember.create({ data: { userId: carol.id, groupId: extra.id } });
    await h.auth.credentialsChanged();
    const me = await call(h, "/v1/me", await idp.jwtToken("carol"));
    expect(me.body.groups).toEqual(["auroragpt", "hand-picked", "physics"]);
  });

  it("accepts an opaque token through RFC 7662 introspection", async () => {
    const token = await idp.opaqueToken("dave");
    expect(token.split(".")).toHaveLength(1);
    const me = await call(h, "/v1/me", token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ username: "dave", authenticated_via: "oidc", groups: [] });
  });

  it("refuses a token for another audience, an unknown opaque token and a tampered JWT", async () => {
    const foreign = await call(h, "/v1/me", await idp.foreignAudienceToken());
    expect(foreign.status).toBe(401);
    expect(foreign.body.error.code).toBe("invalid_token");
    expect((await call(h, "/v1/me", "no-such-opaque-token")).status).toBe(401);
    const jwt = await idp.jwtToken("carol");
    const [head, , sig] = jwt.split(".");
    const forged = `${head}.${Buffer.from(JSON.stringify({ iss: idp.issuer, sub: "root", aud: "switchyard", exp: 9999999999 })).toString("base64url")}.${sig}`;
    expect((await call(h, "/v1/me", forged)).body.error.code).toBe("invalid_token");
  });

  it("says when an external token has expired", async () => {
    const token = await idp.jwtToken("carol");
    h.clock.advance(3600_000 + 120_000);
    const res = await call(h, "/v1/me", token);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe("token_expired");
  });
});
