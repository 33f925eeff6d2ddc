import type { Prisma, PrismaClient } from "./generated/prisma/client";

/** Repositories take either, so a caller can run several of them in one transaction. */
export type PrismaClientOrTransaction = PrismaClient | Prisma.TransactionClient;
