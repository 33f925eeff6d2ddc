import { errors, Pool } from "undici";
import { describe, expect, it } from "vitest";
import { classifyFailure, parseUpstreamError, retryAfterMs, upstreamErrorOf } from "../../src";
import { closedPort } from "./server";

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe("classifyFailure", () => {
  it.each([
    ["undici's headers timeout", new errors.HeadersTimeoutError(), "timeout"],
    ["undici's body timeout", new errors.BodyTimeoutError(), "timeout"],
    // Nothing reached the server: another replica may be tried at once, like a refused connection.
    ["undici's connect timeout", new errors.ConnectTimeoutError(), "unreachable"],
    ["a refused connection", withCode("ECONNREFUSED"), "unreachable"],
    ["a reset connection", withCode("ECONNRESET"), "unreachable"],
    ["a broken pipe", withCode("EPIPE"), "unreachable"],
    ["an unknown host", withCode("ENOTFOUND"), "unreachable"],
    ["undici's socket error", new errors.SocketError("other side closed"), "unreachable"],
    ["a closed pool", new errors.ClientClosedError(), "unreachable"],
    ["an answer too large", new errors.ResponseExceededMaxSizeError(), "transient"],
    ["any other error", new Error("something else"), "transient"],
    ["a thrown non-error", "text", "transient"],
  ])("%s is %s", (_name, error, kind) => {
    expect(classifyFailure(error).kind).toBe(kind);
  });

  it.each([
    [408, "transient"],
    [425, "transient"],
    [429, "transient"],
    [500, "transient"],
    [502, "transient"],
    [503, "transient"],
    [504, "transient"],
    [400, "rejected"],
    [401, "rejected"],
    [404, "rejected"],
    [422, "rejected"],
    [501, "rejected"],
    [505, "rejected"],
  ])("an answer %i is %s, with its status", (status, kind) => {
    expect(classifyFailure({ status, headers: {} })).toEqual(expect.objectContaining({ kind, status }));
  });

  it("is no failure for an answer below 400", () => {
    expect(classifyFailure({ status: 200, headers: {} })).toBeUndefined();
    expect(classifyFailure({ status: 304, headers: {} })).toBeUndefined();
  });

  it("reads Retry-After of a transient answer, in seconds or as an HTTP date", () => {
    expect(classifyFailure({ status: 429, headers: { "retry-after": "7" } })?.retryAfterMs).toBe(7000);
    const date = new Date(Date.now() + 20_000).toUTCString(); // whole seconds: 19-20 s from now
    const fromDate = classifyFailure({ status: 503, headers: { "retry-after": date } })?.retryAfterMs ?? 0;
    expect(fromDate).toBeGreaterThan(18_000);
    expect(fromDate).toBeLessThanOrEqual(20_000);
    expect(classifyFailure({ status: 503, headers: {} })?.retryAfterMs).toBeUndefined();
    expect(classifyFailure({ status: 400, headers: { "retry-after": "7" } })?.retryAfterMs).toBeUndefined();
  });

  it("calls a refused connection of a real dispatch unreachable", async () => {
    const port = await closedPort();
    const pool = new Pool(`http://127.0.0.1:${port}`);
    const refused = await pool.request({ path: "/", method: "GET" }).catch((error: unknown) => error);
    expect(classifyFailure(refused).kind).toBe("unreachable");
    await pool.close();
  });
});

describe("retryAfterMs", () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it.each([
    ["seconds", "3", 3000],
    ["fractional seconds", "1.5", 1500],
    ["an HTTP date 30 s ahead", "Thu, 01 Jan 2026 12:00:30 GMT", 30_000],
    ["an HTTP date in the past", "Thu, 01 Jan 2026 11:59:00 GMT", 0],
    ["more than a minute (capped)", "600", 60_000],
    ["a negative number", "-5", 0],
    ["the first of several values", ["2", "9"], 2000],
    ["garbage", "soon", undefined],
    ["nothing", undefined, undefined],
  ])("%s", (_name, header, ms) => {
    expect(retryAfterMs(header, now)).toBe(ms);
  });
});

describe("upstream error bodies", () => {
  it("reads OpenAI's shape and a bare message, and nothing else", () => {
    expect(parseUpstreamError('{"error":{"message":"too long","type":"invalid_request_error"}}')).toEqual({
      message: "too long",
      openAiShaped: true,
    });
    expect(parseUpstreamError('{"message":"bad input","object":"error"}')).toEqual({
      message: "bad input",
      openAiShaped: false,
    });
    expect(parseUpstreamError('{"error":"a string"}')).toBeUndefined();
    expect(parseUpstreamError('{"error":null,"message":"fallback"}')).toEqual({
      message: "fallback",
      openAiShaped: false,
    });
    expect(parseUpstreamError("null")).toBeUndefined();
    expect(parseUpstreamError("Internal Server Error")).toBeUndefined();
    expect(upstreamErrorOf({ error: { message: "parsed" } })).toEqual({ message: "parsed", openAiShaped: true });
    expect(upstreamErrorOf("text")).toBeUndefined();
  });
});
