import { describe, expect, it } from "vitest";
import { RouteMatcher, type RouteSpec } from "../../src";

const spec = (method: RouteSpec["method"], path: string): RouteSpec => ({ method, path, access: "user", summary: "" });

describe("RouteMatcher", () => {
  const routes = [
    spec("POST", "/v1/chat/completions"),
    spec("POST", "/resource_server/:cluster/:framework/v1/chat/completions"),
    spec("POST", "/resource_server/:cluster/:framework/v1/embeddings"),
    spec("GET", "/v1/models/*id"),
  ];
  const matcher = new RouteMatcher(routes.map((s, i) => ({ spec: s, value: i })));

  it("finds a path without parameters by its method and exact text", () => {
    expect(matcher.match("POST", "/v1/chat/completions")).toMatchObject({ value: 0, params: {} });
    expect(matcher.match("GET", "/v1/chat/completions")).toBeUndefined();
  });

  it("finds a path with parameters and decodes them, keeping a malformed escape as sent", () => {
    expect(matcher.match("POST", "/resource_server/lab/vllm/v1/chat/completions")).toMatchObject({
      value: 1,
      params: { cluster: "lab", framework: "vllm" },
    });
    expect(matcher.match("POST", "/resource_server/my%20lab/%E0%A4/v1/embeddings")).toMatchObject({
      value: 2,
      params: { cluster: "my lab", framework: "%E0%A4" },
    });
    expect(matcher.match("GET", "/v1/models/org/model")?.params).toEqual({ id: "org/model" });
  });

  it("leaves to Express what it does not recognise exactly: other case, a trailing slash, extra segments", () => {
    for (const path of [
      "/V1/chat/completions",
      "/v1/chat/completions/",
      "/resource_server/lab/vllm/v1/chat/completions/",
      "/resource_server/lab/v1/chat/completions",
      "/resource_server/lab/vllm/extra/v1/chat/completions",
      "/resource_server/lab/vllm/v1/messages",
      "/resource_server//vllm/v1/embeddings",
    ]) {
      expect(matcher.match("POST", path), path).toBeUndefined();
    }
  });
});
