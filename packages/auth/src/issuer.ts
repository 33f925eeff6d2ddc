import type { PrismaClientOrTransaction } from "@switchyard/db";

/** The settings row that holds the issuer every instance of an install shares. */
export const ISSUER_SETTING = "auth.issuer";

/**
 * The `iss` every instance uses when `auth.issuer` is not configured: the first instance to ask
 * stores its own address (insert-if-absent, so two instances starting at once agree) and every
 * instance after it reads that. Tokens one instance issues are then accepted by all, and a
 * single instance keeps the issuer it had (its tokens survive a restart on another port).
 */
export async function sharedIssuer(db: PrismaClientOrTransaction, candidate: string): Promise<string> {
  await db.setting.createMany({ data: [{ key: ISSUER_SETTING, value: candidate }], skipDuplicates: true });
  const row = await db.setting.findUniqueOrThrow({ where: { key: ISSUER_SETTING } });
  return row.value;
}
