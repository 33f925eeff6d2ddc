-- AlterTable
ALTER TABLE "deployments" ADD COLUMN     "serverKey" TEXT;

