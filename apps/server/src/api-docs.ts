import { createRequire } from "node:module";
import path from "node:path";
import { apiError } from "@switchyard/core";
import { type RouteTable, sendError } from "@switchyard/http";
import type { Router } from "express";

/** swagger-ui-dist's folder: its prebuilt bundle and style sheet, served as they are. */
const SWAGGER_UI_DIR = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

/** The only files of that folder /docs/assets serves (not its demo page, source maps or logs). */
const VENDOR_FILES = new Set(["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "favicon-16x16.png"]);

/**
 * Our start-up script, a file rather than an inline <script> so the page's policy needs no
 * 'unsafe-inline'. No validator badge: it would send the document to an outside service.
 */
const INIT_SCRIPT = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#api-reference",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
`;

/** Every URL in the page is on this server: the bundle, the styles, our script, and /openapi.json. */
const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard API reference</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<noscript>This page needs JavaScript. The same reference is at /openapi.json (OpenAPI 3.1).</noscript>
<div id="api-reference"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;

/**
 * `/docs`: a browsable view of /openapi.json (Swagger UI from swagger-ui-dist, no CDN). Public,
 * like the document it shows; the page's Content-Security-Policy is set in app.ts.
 */
export function registerApiDocsRoutes(router: Router, routes: RouteTable): void {
  routes.add(
    router,
    { method: "GET", path: "/docs", access: "public", summary: "The API reference: a browsable view of /openapi.json" },
    (_req, res) => {
      res.type("html").set("cache-control", "no-cache").send(PAGE);
    },
  );
  routes.add(
    router,
    {
      method: "GET",
      path: "/docs/assets/:file",
      access: "public",
      summary: "The API reference page's scripts and styles",
    },
    (req, res) => {
      const file = String(req.params.file);
      if (file === "init.js") {
        res.type("text/javascript; charset=utf-8").set("cache-control", "no-cache").send(INIT_SCRIPT);
        return;
      }
      const notFound = () =>
        sendError(res, apiError("route_not_found", { method: "GET", path: `/docs/assets/${file}` }));
      if (!VENDOR_FILES.has(file)) return notFound();
      // The names carry no version, so browsers check back now and then (Last-Modified answers 304).
      res.set("cache-control", "public, max-age=3600");
      res.sendFile(file, { root: SWAGGER_UI_DIR, dotfiles: "deny" }, (error) => {
        if (error && !res.headersSent) notFound();
      });
    },
  );
}
