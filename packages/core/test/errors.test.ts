import { describe, expect, it } from "vitest";
import { apiError, ERROR_CATALOGUE, ERROR_CODES, ErrorBodySchema, renderError, SwitchyardError } from "../src";

/** Each placeholder filled with its own name, so the snapshot shows the template's shape. */
function sampleParams(template: string): Record<string, string> {
  return Object.fromEntries([...template.matchAll(/\{(\w+)\}/g)].map(([, name]) => [name as string, `<${name}>`]));
}

describe("error catalogue", () => {
  it("renders every entry as the exact OpenAI error body", () => {
    const rendered = Object.fromEntries(
      ERROR_CODES.map((code) => {
        const error = new SwitchyardError(code, sampleParams(ERROR_CATALOGUE[code].message));
        return [code, renderError(error)];
      }),
    );
    expect(rendered).toMatchSnapshot();
  });

  it.each(ERROR_CODES)("%s: OpenAI-shaped, status matches its kind, no unfilled placeholder", (code) => {
    const def = ERROR_CATALOGUE[code];
    const { status, body } = renderError(new SwitchyardError(code, sampleParams(def.message)));
    expect(ErrorBodySchema.parse(body)).toEqual(body);
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(body.error.code).toBe(code);
    expect(body.error.message).not.toMatch(/\{\w+\}/);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(def.description.length).toBeGreaterThan(10);
    if (status === 401) expect(def.type).toBe("authentication_error");
    if (status === 403) expect(def.type).toBe("permission_error");
    if (status === 429) expect(def.type).toBe("rate_limit_error");
    if (status >= 500) expect(["server_error", "service_unavailable_error", "timeout_error"]).toContain(def.type);
  });

  it("puts Retry-After in the header and the body", () => {
    const error = apiError(
      "model_not_ready",
      { model: "m", state: "starting", detail: " (ETA 40 s)", retryAfter: 12 },
      {
        retryAfter: 11.2,
        extra: { model_state: "starting", eta_seconds: 40 },
      },
    );
    const { status, headers, body } = renderError(error);
    expect(status).toBe(503);
    expect(headers["retry-after"]).toBe("12");
    expect(body.error).toMatchObject({
      retry_after: 12,
      model_state: "starting",
      eta_seconds: 40,
      code: "model_not_ready",
    });
  });

  it("challenges with WWW-Authenticate on 401s, naming invalid_token when a token was sent", () => {
    expect(renderError(apiError("missing_credentials", {})).headers["www-authenticate"]).toBe(
      'Bearer realm="switchyard"',
    );
    expect(
      renderError(apiError("token_expired", { expiredAt: "2026-01-01T00:00:00Z" })).headers["www-authenticate"],
    ).toMatch(/error="invalid_token"/);
    expect(
      renderError(apiError("model_access_denied", { model: "m", groups: "g" })).headers["www-authenticate"],
    ).toBeUndefined();
  });

  it("names the field in `param`", () => {
    const error = apiError("invalid_field", { param: "messages[0].content", detail: "expected a string" });
    expect(renderError(error).body.error.param).toBe("messages[0].content");
    expect(error.message).toBe("Invalid value for 'messages[0].content': expected a string.");
  });
});

describe("docs/errors.md", () => {
  it("is generated from the catalogue and up to date (run `pnpm docs:generate` after changing it)", async () => {
    const { readFile } = await import("node:fs/promises");
    const { errorCatalogueMarkdown } = await import("../src");
    const committed = await readFile(new URL("../../../docs/errors.md", import.meta.url), "utf8");
    expect(committed).toBe(errorCatalogueMarkdown());
  });
});
