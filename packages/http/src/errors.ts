import type { ServerResponse } from "node:http";
import { apiError, renderError, SwitchyardError } from "@switchyard/core";
import type { ErrorRequestHandler, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { RouteTable } from "./routes";

/** The only place error JSON is written: the catalogue's OpenAI-shaped body and headers. */
export function sendError(res: ServerResponse | Response, error: SwitchyardError): void {
  const rendered = renderError(error);
  const body = JSON.stringify(rendered.body);
  if (res.headersSent) {
    res.end();
    return;
  }
  for (const [name, value] of Object.entries(rendered.headers)) res.setHeader(name, value);
  res.writeHead(rendered.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Unknown path: 404; known path, other method: 405 with `Allow`. */
export function notFound(routes: RouteTable): RequestHandler {
  return (req, res) => {
    const allowed = routes.methodsFor(req.path);
    if (allowed.length > 0) {
      res.set("allow", allowed.join(", "));
      sendError(
        res,
        apiError("method_not_allowed", { method: req.method, path: req.path, allowed: allowed.join(", ") }),
      );
      return;
    }
    sendError(res, apiError("route_not_found", { method: req.method, path: req.path }));
  };
}

/** Body-parser style errors carry a status; everything else unknown is a bug (500, logged). */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const requestId = String(res.locals.requestId ?? "unknown");
    let err: SwitchyardError;
    if (error instanceof SwitchyardError) {
      err = error;
    } else {
      err = new SwitchyardError("internal_error", { requestId }, { cause: error });
      logger.error({ err: error, requestId, method: req.method, path: req.path }, "unhandled error");
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    sendError(res, err);
  };
}
