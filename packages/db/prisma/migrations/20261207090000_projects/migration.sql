-- AlterTable
ALTER TABLE "usage_records" ADD COLUMN     "projectId" UUID;

-- AlterTable
ALTER TABLE "batches" ADD COLUMN     "projectId" UUID;

-- CreateTable
CREATE TABLE "projects" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "tokenBudget" BIGINT,
    "validFrom" TIMESTAMPTZ(3),
    "validUntil" TIMESTAMPTZ(3),
    "active" BOOLEAN NOT NULL DEFAULT true,
    "open" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "projects_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "project_members" (
    "id" UUID NOT NULL,
    "projectId" UUID NOT NULL,
    "userId" UUID,
    "groupId" UUID,
    "addedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "project_members_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "project_model_limits" (
    "projectId" UUID NOT NULL,
    "model" TEXT NOT NULL,
    "tokenLimit" BIGINT NOT NULL,

    CONSTRAINT "project_model_limits_pkey" PRIMARY KEY ("projectId","model")
);

-- CreateIndex
CREATE UNIQUE INDEX "projects_name_key" ON "projects"("name");

-- CreateIndex
CREATE INDEX "project_members_userId_idx" ON "project_members"("userId");

-- CreateIndex
CREATE INDEX "project_members_groupId_idx" ON "project_members"("groupId");

-- CreateIndex
CREATE UNIQUE INDEX "project_members_projectId_userId_key" ON "project_members"("projectId", "userId");

-- CreateIndex
CREATE UNIQUE INDEX "project_members_projectId_groupId_key" ON "project_members"("projectId", "groupId");

-- CreateIndex
CREATE INDEX "usage_records_projectId_model_idx" ON "usage_records"("projectId", "model");

-- AddForeignKey
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_userId_fkey" FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_groupId_fkey" FOREIGN KEY ("groupId") REFERENCES "groups"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "project_model_limits" ADD CONSTRAINT "project_model_limits_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "batches" ADD CONSTRAINT "batches_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "projects"("id") ON DELETE SET NULL ON UPDATE CASCADE;


-- Added by hand (Prisma cannot express CHECK constraints): a member is a user or a group,
-- never both and never neither.
ALTER TABLE "project_members" ADD CONSTRAINT "project_members_user_or_group" CHECK (("userId" IS NULL) <> ("groupId" IS NULL));

-- Added by hand: the one open project every install starts with (every user a member, no
-- budget, no window), so batches run as they did before projects existed until an admin
-- narrows it or adds others.
INSERT INTO "projects" ("id", "name", "description", "open") VALUES (gen_random_uuid(), 'default', 'Open to every user, without a budget (created by the installation).', true);
