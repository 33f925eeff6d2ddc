import {
  AllocationSchema,
  BatchListSchema,
  BatchObjectSchema,
  BatchPrecheckRequestSchema,
  BatchPrecheckSchema,
  ChatCompletionChunkSchema,
  ChatCompletionSchema,
  ClusterStatusMapSchema,
  CompletionSchema,
  CreateBatchRequestSchema,
  EmbeddingResponseSchema,
  EndpointListSchema,
  FileDeletedSchema,
  FileListSchema,
  FileObjectSchema,
  ModelDetailsListSchema,
  ModelListSchema,
  ModelObjectSchema,
  ReferenceBatchDetailSchema,
  ReferenceBatchResultSchema,
  ReferenceBatchSchema,
  ReferenceCreateBatchSchema,
  ResourceJobsViewSchema,
  WhoamiSchema,
} from "@switchyard/core";
import { named } from "@switchyard/http";
import { z } from "zod";

/** The gateway's request and answer schemas under the names the OpenAPI document gives them. */
export const SCHEMAS = {
  Model: named("Model", ModelObjectSchema),
  ModelList: named("ModelList", ModelListSchema),
  ChatCompletion: named("ChatCompletion", ChatCompletionSchema),
  ChatCompletionChunk: named("ChatCompletionChunk", ChatCompletionChunkSchema),
  Completion: named("Completion", CompletionSchema),
  EmbeddingResponse: named("EmbeddingResponse", EmbeddingResponseSchema),
  Allocation: named("Allocation", AllocationSchema),
  File: named("File", FileObjectSchema),
  FileList: named("FileList", FileListSchema),
  FileDeleted: named("FileDeleted", FileDeletedSchema),
  FileUpload: named("FileUpload", {
    type: "object",
    required: ["file", "purpose"],
    properties: {
      file: {
        type: "string",
        format: "binary",
        description: "The JSONL batch input, one request per line; at most `batch.maxFileBytes` (200 MB by default)",
      },
      purpose: { type: "string", enum: ["batch"], description: 'Must be `"batch"`; other purposes are refused' },
      "expires_after[anchor]": {
        type: "string",
        enum: ["created_at"],
        description: 'Must be `"created_at"`; required when `expires_after[seconds]` is sent',
      },
      "expires_after[seconds]": {
        type: "integer",
        minimum: 3600,
        description:
          "Seconds after upload until the file is deleted: a whole number from 3600 to `batch.fileExpiry` (30 days by default or when that is 0); required when `expires_after[anchor]` is sent",
      },
    },
  }),
  CreateBatchRequest: named("CreateBatchRequest", CreateBatchRequestSchema),
  Batch: named("Batch", BatchObjectSchema),
  BatchPrecheckRequest: named("BatchPrecheckRequest", BatchPrecheckRequestSchema),
  BatchPrecheck: named("BatchPrecheck", BatchPrecheckSchema),
  BatchList: named("BatchList", BatchListSchema),
  ReferenceCreateBatch: named("ReferenceCreateBatch", ReferenceCreateBatchSchema),
  ReferenceBatchList: named("ReferenceBatchList", z.array(ReferenceBatchSchema)),
  ReferenceBatchDetail: named("ReferenceBatchDetail", ReferenceBatchDetailSchema),
  ReferenceBatchResult: named("ReferenceBatchResult", ReferenceBatchResultSchema),
  ClusterStatusMap: named("ClusterStatusMap", ClusterStatusMapSchema),
  Whoami: named("Whoami", WhoamiSchema),
  EndpointList: named("EndpointList", EndpointListSchema),
  ResourceJobsView: named("ResourceJobsView", ResourceJobsViewSchema),
  ModelDetailsList: named("ModelDetailsList", ModelDetailsListSchema),
};

/** A 200 answer of one JSON schema. */
export function answers(schema: (typeof SCHEMAS)[keyof typeof SCHEMAS], description = "OK") {
  return { description, content: { "application/json": schema } };
}
