-- AlterTable
ALTER TABLE "deployments" ADD COLUMN     "estimatedStartAt" TIMESTAMPTZ(3);
