import { DEVICE_PAGE_STYLE_SOURCE } from "@switchyard/auth";
import type { SwitchyardConfig } from "@switchyard/core";
import type { RequestHandler } from "express";
import { UNAVAILABLE_PAGE_STYLE_SOURCE } from "../dashboard";

type Directives = Record<string, string[]>;

function policy(directives: Directives): string {
  return Object.entries(directives)
    .map(([name, sources]) => [name, ...sources].join(" "))
    .join("; ");
}

/** What every HTML page shares: no framing, no inline script, no plugins, no foreign base URL. */
const BASE: Directives = {
  "default-src": ["'self'"],
  "script-src": ["'self'"],
  "object-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'self'"],
  "frame-ancestors": ["'none'"],
};

/**
 * The dashboard: its own bundle and styles only; API calls to this server and, for single
 * sign-on, to each identity provider the dashboard offers (discovery and the token exchange
 * happen in the browser).
 */
export function dashboardPolicy(config: SwitchyardConfig): string {
  const providers = config.auth.oidc.flatMap((p) =>
    p.dashboard ? [p.issuer, ...p.dashboard.connectOrigins].map((url) => new URL(url).origin) : [],
  );
  return policy({
    ...BASE,
    "style-src": ["'self'", UNAVAILABLE_PAGE_STYLE_SOURCE],
    "img-src": ["'self'", "data:", "blob:"],
    "connect-src": ["'self'", ...new Set(providers)],
  });
}

/** /device: a server-rendered form with one inline style sheet (allowed by its hash) and no script. */
export const DEVICE_PAGE_POLICY = policy({
  ...BASE,
  "default-src": ["'none'"],
  "script-src": ["'none'"],
  "style-src": [DEVICE_PAGE_STYLE_SOURCE],
  "img-src": ["'self'"],
});

/**
 * /docs (Swagger UI): its bundle, style sheet and start-up script from this server; the document
 * and "Try it out" requests to this server only; the style sheet's icons are data: URLs.
 */
export const API_DOCS_POLICY = policy({
  ...BASE,
  "style-src": ["'self'"],
  "img-src": ["'self'", "data:"],
  "connect-src": ["'self'"],
});

/**
 * Headers for the HTML pages (/admin, /device, /docs): a Content-Security-Policy, no framing
 * (clickjacking an approval button), no MIME sniffing, and no Referer (the callback and
 * device URLs carry codes).
 */
export function pageSecurityHeaders(contentSecurityPolicy: string): RequestHandler {
  const headers = {
    "content-security-policy": contentSecurityPolicy,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
  };
  return (_req, res, next) => {
    res.set(headers);
    next();
  };
}
