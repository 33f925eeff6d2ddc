import type { PrismaClientOrTransaction } from "@switchyard/db";
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";

const ALGORITHM = "EdDSA";

interface LoadedKey {
  kid: string;
  privateKey: Awaited<ReturnType<typeof importJWK>>;
  publicJwk: JWK;
}

/**
 * The keys that sign access tokens. Created on first start and kept in the database, so
 * tokens survive restarts and every instance verifies every other's tokens. A token signed by
 * a key this instance has not seen yet (another instance created it) triggers one reload.
 */
export class SigningKeys {
  private current: LoadedKey | undefined;
  private jwks: JSONWebKeySet = { keys: [] };
  private verifier = createLocalJWKSet({ keys: [] });
  private lastReload = 0;

  constructor(private readonly db: PrismaClientOrTransaction) {}

  /** Load the keys, creating the first one if there is none. */
  async init(): Promise<void> {
    if ((await this.db.signingKey.count({ where: { retiredAt: null } })) === 0) {
      const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { crv: "Ed25519", extractable: true });
      const publicJwk = await exportJWK(publicKey);
      const kid = await calculateJwkThumbprint(publicJwk);
      await this.db.signingKey.createMany({
        data: [
          { kid, algorithm: ALGORITHM, publicJwk: { ...publicJwk }, privateJwk: { ...(await exportJWK(privateKey)) } },
        ],
        skipDuplicates: true,
      });
    }
    await this.reload();
  }

  private async reload(): Promise<void> {
    const rows = await this.db.signingKey.findMany({ where: { retiredAt: null }, orderBy: { createdAt: "asc" } });
    const newest = rows.at(-1);
    if (!newest) throw new Error("no signing key");
    const publicJwk = { ...(newest.publicJwk as JWK), kid: newest.kid, alg: ALGORITHM, use: "sig" };
    this.current = {
      kid: newest.kid,
      privateKey: await importJWK(newest.privateJwk as JWK, ALGORITHM),
      publicJwk,
    };
    this.jwks = {
      keys: rows.map((row) => ({ ...(row.publicJwk as JWK), kid: row.kid, alg: ALGORITHM, use: "sig" })),
    };
    this.verifier = createLocalJWKSet(this.jwks);
    this.lastReload = Date.now();
  }

  /** The public keys, as published at /.well-known/jwks.json. */
  publicKeys(): JSONWebKeySet {
    return this.jwks;
  }

  async sign(
    claims: JWTPayload,
    options: { issuer: string; audience: string; issuedAt: number; expiresAt: number; jwtId: string; subject: string },
  ): Promise<string> {
    const key = this.current;
    if (!key) throw new Error("signing keys not initialised");
    return new SignJWT(claims)
      .setProtectedHeader({ alg: ALGORITHM, kid: key.kid, typ: "at+jwt" })
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setSubject(options.subject)
      .setJti(options.jwtId)
      .setIssuedAt(Math.floor(options.issuedAt / 1000))
      .setExpirationTime(Math.floor(options.expiresAt / 1000))
      .sign(key.privateKey);
  }

  /** Verify a token of ours; jose errors (expired, bad signature, wrong claims) propagate. */
  async verify(token: string, options: { issuer: string; audience: string; now: number }) {
    const verifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      algorithms: [ALGORITHM],
      currentDate: new Date(options.now),
      typ: "at+jwt",
    };
    try {
      return await jwtVerify(token, this.verifier, verifyOptions);
    } catch (error) {
      // A key created by another instance after we loaded ours: reload once, at most every 5 s.
      if ((error as { code?: string }).code === "ERR_JWKS_NO_MATCHING_KEY" && Date.now() - this.lastReload > 5000) {
        await this.reload();
        return jwtVerify(token, this.verifier, verifyOptions);
      }
      throw error;
    }
  }
}
