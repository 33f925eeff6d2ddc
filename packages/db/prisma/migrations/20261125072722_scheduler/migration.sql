-- AlterTable
ALTER TABLE "deployments" ADD COLUMN     "busyUntil" TIMESTAMPTZ(3),
ADD COLUMN     "logPath" TEXT;


-- Added by hand (Prisma cannot express partial indexes): one queued, starting or live
-- deployment per model, so concurrent starts, even from two schedulers, create exactly one.
CREATE UNIQUE INDEX "deployments_one_active_per_model" ON "deployments"("modelId") WHERE "state" IN ('queued', 'starting', 'live');
