import { createReadStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { actsAsAdmin, type Principal, principalOf } from "@switchyard/auth";
import type { BatchService, FileStore } from "@switchyard/batch";
import {
  AllocationQuerySchema,
  apiError,
  type BatchSettings,
  type ErrorCode,
  FileListQuerySchema,
  ListQuerySchema,
  ReferenceBatchListQuerySchema,
} from "@switchyard/core";
import { BODY_ERRORS, type RouteTable } from "@switchyard/http";
import type { Request, Router } from "express";
import type { ModelResolver } from "./resolve";
import { answers, SCHEMAS } from "./routes/schemas";
import { expiresAfter, receiveUpload } from "./upload";

export interface BatchRouteDeps {
  service: BatchService;
  files: FileStore;
  resolver: ModelResolver;
  settings: BatchSettings;
}

const BATCH = { access: "user", scope: "batch" } as const;

/** What the checks of creating a batch may answer (`checkBatchCreate`): the precheck's errors. */
const CHECK_ERRORS: ErrorCode[] = [
  "batch_limit_reached",
  "model_not_found",
  "model_access_denied",
  "capability_not_supported",
  "project_required",
  "project_not_allowed",
  "no_active_allocation",
  "project_not_found",
  "allocation_exhausted",
];
/** What creating a batch may answer, on either front door. */
const CREATE_ERRORS: ErrorCode[] = ["batch_not_found", "file_not_found", "batch_state_conflict", ...CHECK_ERRORS];
/** A cancel reads no body, but is documented with the body errors every POST route had. */
const CANCEL_ERRORS: ErrorCode[] = ["batch_not_found", "batch_state_conflict", ...BODY_ERRORS];

function param(req: Request, name: string): string {
  return String((req.params as Record<string, string>)[name]);
}

function pathTarget(req: Request): { cluster: string; framework: string } | undefined {
  const params = req.params as Record<string, string | undefined>;
  return params.cluster && params.framework ? { cluster: params.cluster, framework: params.framework } : undefined;
}

/**
 * Whose files a caller may read: their own, or (an admin with the admin scope, as the
 * dashboard's Batches page) anyone's, so an operator can look at a batch's results and
 * errors. Listing and deleting stay per user.
 */
function readerOf(principal: Principal): string | null {
  return actsAsAdmin(principal) ? null : principal.userId;
}

/** The model a batch names, checked as an inference request would be, plus the batch capability (422). */
function resolverFor(resolver: ModelResolver, principal: Principal) {
  return (model: string, path?: { cluster: string; framework: string }) => {
    const target = resolver.resolve(model, path);
    resolver.authorize(principal, target);
    resolver.requireCapability(target, principal, "batch", "batches");
    return { model: target.model, cluster: target.cluster };
  };
}

/**
 * The batch front doors: OpenAI's Files and Batches API, and the reference service's
 * path-based batch API. Both call the same service; the worker runs what they create.
 */
export function registerBatchRoutes(router: Router, routes: RouteTable, deps: BatchRouteDeps): void {
  const { service, files, resolver, settings } = deps;

  // ---- OpenAI Files --------------------------------------------------------------------
  routes.add(
    router,
    {
      method: "POST",
      path: "/v1/files",
      ...BATCH,
      summary: "Upload a batch input file (multipart: file, purpose=batch)",
      body: { schema: SCHEMAS.FileUpload, media: "multipart/form-data" },
      response: answers(SCHEMAS.File),
      errors: ["unsupported_content_type", "missing_required_field"],
    },
    async (req, res) => {
      const principal = principalOf(res);
      const { staged, filename, fields } = await receiveUpload(req, files, principal.userId, settings.maxFileBytes);
      const purpose = fields.purpose;
      let expires: number | undefined;
      try {
        if (purpose === undefined) throw apiError("missing_required_field", { param: "purpose" }, { param: "purpose" });
        if (purpose !== "batch") {
          throw apiError(
            "invalid_field",
            { param: "purpose", detail: `'${purpose}' is not accepted here; use "batch"` },
            { param: "purpose" },
          );
        }
        expires = expiresAfter(fields, settings);
      } catch (error) {
        await files.discard(staged);
        throw error;
      }
      res.json(await files.commit(staged, { userId: principal.userId, filename, purpose, expiresAfter: expires }));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/files",
      ...BATCH,
      summary: "Your files, newest first",
      query: FileListQuerySchema,
      response: answers(SCHEMAS.FileList),
    },
    async (_req, res, { query }) => {
      const page = await files.list(principalOf(res).userId, query);
      res.json({
        object: "list",
        data: page.data,
        first_id: page.data[0]?.id ?? null,
        last_id: page.data.at(-1)?.id ?? null,
        has_more: page.hasMore,
      });
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/files/:file_id",
      ...BATCH,
      summary: "One file",
      response: answers(SCHEMAS.File),
      errors: ["file_not_found"],
    },
    async (req, res) => {
      res.json(await files.get(readerOf(principalOf(res)), param(req, "file_id")));
    },
  );
  routes.add(
    router,
    { method: "GET", path: "/v1/files/:file_id/content", ...BATCH, summary: "A file's bytes" },
    async (req, res) => {
      const file = await files.locate(readerOf(principalOf(res)), param(req, "file_id"));
      res.setHeader("content-type", "application/octet-stream");
      res.setHeader("content-disposition", attachment(file.filename));
      res.setHeader("content-length", String(file.bytes));
      if (file.bytes === 0) {
        res.end();
        return;
      }
      // The recorded length: a batch still appending to its output never serves a torn line.
      await pipeline(createReadStream(file.path, { start: 0, end: file.bytes - 1 }), res);
    },
  );
  routes.add(
    router,
    {
      method: "DELETE",
      path: "/v1/files/:file_id",
      ...BATCH,
      summary: "Delete a file",
      response: answers(SCHEMAS.FileDeleted),
      errors: ["file_not_found", "file_in_use"],
    },
    async (req, res) => {
      const userId = principalOf(res).userId;
      const id = param(req, "file_id");
      await files.get(userId, id);
      await service.assertFileUnused(userId, id);
      res.json(await files.delete(userId, id));
    },
  );

  // ---- OpenAI Batches ------------------------------------------------------------------
  routes.add(
    router,
    {
      method: "POST",
      path: "/v1/batches",
      ...BATCH,
      summary: "Create a batch from an uploaded file",
      body: { schema: SCHEMAS.CreateBatchRequest },
      response: answers(SCHEMAS.Batch),
      errors: CREATE_ERRORS,
    },
    async (_req, res, { body }) => {
      const principal = principalOf(res);
      res.json(await service.createOpenAI(principal.userId, body, resolverFor(resolver, principal)));
    },
  );
  routes.add(
    router,
    {
      method: "POST",
      path: "/v1/batches/precheck",
      ...BATCH,
      summary:
        "Whether a batch of this model would be created, asked before its input is uploaded: the same checks as creating it (200, or the error create would answer)",
      body: { schema: SCHEMAS.BatchPrecheckRequest },
      response: answers(SCHEMAS.BatchPrecheck),
      errors: CHECK_ERRORS,
    },
    async (_req, res, { body }) => {
      const principal = principalOf(res);
      res.json(await service.precheck(principal.userId, body, resolverFor(resolver, principal)));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/batches",
      ...BATCH,
      summary: "Your batches, newest first",
      query: ListQuerySchema,
      response: answers(SCHEMAS.BatchList),
      errors: ["batch_not_found"],
    },
    async (_req, res, { query }) => {
      res.json(await service.list(principalOf(res).userId, query));
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/batches/:batch_id",
      ...BATCH,
      summary: "One batch",
      response: answers(SCHEMAS.Batch),
      errors: ["batch_not_found"],
    },
    async (req, res) => {
      res.json(await service.get(principalOf(res).userId, param(req, "batch_id")));
    },
  );
  routes.add(
    router,
    {
      method: "POST",
      path: "/v1/batches/:batch_id/cancel",
      ...BATCH,
      summary: "Cancel a batch (answers received are kept)",
      response: answers(SCHEMAS.Batch),
      errors: CANCEL_ERRORS,
    },
    async (req, res) => {
      const userId = principalOf(res).userId;
      await service.cancel(userId, param(req, "batch_id"));
      res.json(await service.get(userId, param(req, "batch_id")));
    },
  );

  // ---- allocations ------------------------------------------------------------------------
  routes.add(
    router,
    {
      method: "GET",
      path: "/v1/allocation",
      ...BATCH,
      summary:
        "The project a batch would be charged to now (?project=NAME&model=MODEL), or the refusal its create would get",
      query: AllocationQuerySchema,
      response: answers(SCHEMAS.Allocation),
      // The create checks but the active-batch limit (the allocation is answered whatever runs).
      errors: CHECK_ERRORS.filter((code) => code !== "batch_limit_reached"),
    },
    async (_req, res, { query }) => {
      const principal = principalOf(res);
      // The model as a create would resolve it (an alias counts against the model's own limit).
      const model = query.model === undefined ? undefined : resolverFor(resolver, principal)(query.model).model.id;
      res.json(await service.allocation(principal.userId, query.project, model));
    },
  );

  // ---- the reference service's paths -----------------------------------------------------
  for (const prefix of ["/resource_server/v1/batches", "/resource_server/:cluster/:framework/v1/batches"]) {
    const where = prefix.includes(":cluster") ? " (cluster path)" : "";
    routes.add(
      router,
      {
        method: "POST",
        path: prefix,
        ...BATCH,
        summary: `Create a batch from a file on shared storage${where}`,
        body: { schema: SCHEMAS.ReferenceCreateBatch },
        response: answers(SCHEMAS.ReferenceBatchDetail),
        errors: [
          ...CREATE_ERRORS,
          "invalid_path",
          "path_not_allowed",
          "path_access_denied",
          "batch_line_too_long",
          "batch_input_in_use",
        ],
      },
      async (req, res, { body }) => {
        const principal = principalOf(res);
        res.json(
          await service.createReference(principal.userId, body, resolverFor(resolver, principal), pathTarget(req)),
        );
      },
    );
    routes.add(
      router,
      {
        method: "GET",
        path: prefix,
        ...BATCH,
        summary: `Your batches (?status=pending|running|completed|failed|cancelled)${where}`,
        query: ReferenceBatchListQuerySchema,
        response: answers(SCHEMAS.ReferenceBatchList),
      },
      async (_req, res, { query }) => {
        // An empty status filters nothing, as an absent one.
        res.json(await service.listReference(principalOf(res).userId, query.status || undefined));
      },
    );
    routes.add(
      router,
      {
        method: "GET",
        path: `${prefix}/:batch_id`,
        ...BATCH,
        summary: `One batch, with its counts and files${where}`,
        response: answers(SCHEMAS.ReferenceBatchDetail),
        errors: ["batch_not_found"],
      },
      async (req, res) => {
        res.json(await service.getReference(principalOf(res).userId, param(req, "batch_id")));
      },
    );
    routes.add(
      router,
      {
        method: "GET",
        path: `${prefix}/:batch_id/result`,
        ...BATCH,
        summary: `Where an ended batch's files are, and its metrics (a failed one: why)${where}`,
        response: answers(SCHEMAS.ReferenceBatchResult),
        errors: ["batch_not_found", "batch_state_conflict", "batch_failed"],
      },
      async (req, res) => {
        res.json(await service.referenceResult(principalOf(res).userId, param(req, "batch_id")));
      },
    );
    routes.add(
      router,
      {
        method: "POST",
        path: `${prefix}/:batch_id/cancel`,
        ...BATCH,
        summary: `Cancel a batch (not in the reference service)${where}`,
        response: answers(SCHEMAS.ReferenceBatchDetail),
        errors: CANCEL_ERRORS,
      },
      async (req, res) => {
        const userId = principalOf(res).userId;
        await service.cancel(userId, param(req, "batch_id"));
        res.json(await service.getReference(userId, param(req, "batch_id")));
      },
    );
  }
}

/**
 * `attachment; filename="..."`, plus RFC 6266's `filename*` for a name that is not ASCII (a
 * header value cannot carry it as it is: Node refuses characters past Latin-1).
 */
function attachment(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  if (ascii === filename) return `attachment; filename="${ascii}"`;
  const encoded = encodeURIComponent(filename).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
