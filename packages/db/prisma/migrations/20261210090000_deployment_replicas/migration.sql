-- Replicas that follow demand: a model may have several current deployments, one per replica
-- slot; the partial unique index keeps each slot's start exactly-once across processes.
ALTER TABLE "deployments" ADD COLUMN "replica" INTEGER NOT NULL DEFAULT 0;

DROP INDEX "deployments_one_active_per_model";
CREATE UNIQUE INDEX "deployments_one_active_per_replica" ON "deployments"("modelId", "replica") WHERE "state" IN ('queued', 'starting', 'live');

-- What each instance has in flight and waiting per model, for the leader's scaling decisions.
CREATE TABLE "model_demand" (
    "instance" TEXT NOT NULL,
    "modelId" UUID NOT NULL,
    "inFlight" INTEGER NOT NULL,
    "waiting" INTEGER NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "model_demand_pkey" PRIMARY KEY ("instance","modelId")
);

ALTER TABLE "model_demand" ADD CONSTRAINT "model_demand_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "models"("id") ON DELETE CASCADE ON UPDATE CASCADE;
