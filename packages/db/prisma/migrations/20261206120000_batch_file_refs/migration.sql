-- AlterTable
ALTER TABLE "batches" ADD COLUMN     "fileRefs" JSONB;
