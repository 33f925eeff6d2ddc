import { createPublicKey } from "node:crypto";
import { testDrivers } from "@switchyard/db/testing";
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE } from "../../src";
import { addUser, call, type Harness, passwordGrant, post, startHarness } from "../harness";

const drivers = await testDrivers();
const HOUR = 3_600_000;

/** What held when tried as an attacker would, kept here so it keeps holding. */
describe.each(drivers)("access and refresh tokens under attack on %s", (driver) => {
  let h: Harness;
  let claims: { sub: string; iss: string; aud: string; exp: number; iat: number; jti: string };
  beforeAll(async () => {
    h = await startHarness(driver);
    await addUser(h, "ada");
    await addUser(h, "root", { admin: true });
    const root = decodeJwt(String((await passwordGrant(h, "root")).body.access_token));
    const now = Math.floor(h.clock.now() / 1000);
    claims = { sub: String(root.sub), iss: h.url, aud: AUDIENCE, iat: now, exp: now + 3600, jti: "forged-1" };
  });
  afterAll(() => h?.close());

  async function expectRefused(token: string, name: string) {
    const res = await call(h, "/v1/me", token);
    expect(res.status, name).toBe(401);
    expect(res.body.error?.code, name).toBe("invalid_token");
  }

  it("a token with alg none, claiming to be the admin, is refused", async () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
    await expectRefused(`${b64({ alg: "none", typ: "at+jwt" })}.${b64(claims)}.`, "alg none");
  });

  it("a token signed with HS256 using the server's published public key as the secret is refused", async () => {
    const published = h.auth.keys.publicKeys().keys[0] as JWK;
    const pem = createPublicKey({ key: published as never, format: "jwk" }).export({ type: "spki", format: "pem" });
    for (const [name, secret] of [
      ["the PEM", Buffer.from(String(pem))],
      ["the JWK's x", Buffer.from(String(published.x), "base64url")],
    ] as const) {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: published.kid })
        .sign(secret);
      await expectRefused(token, `HS256 with ${name}`);
    }
  });

  it("a token carrying its own key in an embedded jwk header is refused", async () => {
    const attacker = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const jwk = await exportJWK(attacker.publicKey);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", jwk, kid: await calculateJwkThumbprint(jwk) })
      .sign(attacker.privateKey);
    await expectRefused(token, "embedded jwk");
  });

  it("a token signed by a foreign key, under an unknown kid or under the server's own kid, is refused", async () => {
    const attacker = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const ourKid = String(h.auth.keys.publicKeys().keys[0]?.kid);
    for (const kid of ["someone-elses-key", ourKid]) {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt", kid })
        .sign(attacker.privateKey);
      await expectRefused(token, `kid ${kid}`);
    }
  });

  it("a token for a foreign issuer is refused, even one signed with the server's own key", async () => {
    const signedForElsewhere = await h.auth.keys.sign(
      { preferred_username: "root" },
      {
        issuer: "https://staging.example.org",
        audience: AUDIENCE,
        subject: claims.sub,
        jwtId: "elsewhere-1",
        issuedAt: h.clock.now(),
        expiresAt: h.clock.now() + HOUR,
      },
    );
    await expectRefused(signedForElsewhere, "foreign iss, our key");
    const attacker = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const foreign = await new SignJWT({ ...claims, iss: "https://evil.example" })
      .setProtectedHeader({ alg: "EdDSA", typ: "at+jwt" })
      .sign(attacker.privateKey);
    await expectRefused(foreign, "foreign iss, foreign key");
  });

  it("a stolen refresh token replayed after its owner refreshed revokes the whole session", async () => {
    const login = await passwordGrant(h, "ada");
    const stolen = String(login.body.refresh_token);
    const owner = await post(`${h.url}/auth/token`, { grant_type: "refresh_token", refresh_token: stolen });
    expect(owner.status).toBe(200);
    const replay = await post(`${h.url}/auth/token`, { grant_type: "refresh_token", refresh_token: stolen });
    expect(replay).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    // The owner's newer token is dead too: whoever holds the session must log in again.
    const next = await post(`${h.url}/auth/token`, {
      grant_type: "refresh_token",
      refresh_token: String(owner.body.refresh_token),
    });
    expect(next).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("one refresh token presented twice at the same moment: at most one answer gets tokens, then the session is revoked", async () => {
    const login = await passwordGrant(h, "ada");
    const token = String(login.body.refresh_token);
    const answers = await Promise.all(
      [0, 1].map(() => post(`${h.url}/auth/token`, { grant_type: "refresh_token", refresh_token: token })),
    );
    const winners = answers.filter((a) => a.status === 200);
    expect(winners.length).toBeLessThanOrEqual(1);
    for (const winner of winners) {
      const after = await post(`${h.url}/auth/token`, {
        grant_type: "refresh_token",
        refresh_token: String(winner.body.refresh_token),
      });
      expect(after.body).toMatchObject({ error: "invalid_grant" });
    }
  });
});
