import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createServiceLoggers } from "../src";

// Written out here, not read from REDACTED_PATHS: dropping a name from that list must fail this test.
const SECRET_FIELDS = [
  "password",
  "token",
  "access_token",
  "refresh_token",
  "device_code",
  "apiKey",
  "serverKey",
  "api_key",
  "key",
  "secret",
];

function capture() {
  const lines: string[] = [];
  const loggers = createServiceLoggers(
    "debug",
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { ...loggers, lines };
}

describe("the service logger", () => {
  it("redacts every secret field and the credential headers, whatever object carries them", () => {
    const { logger, lines } = capture();
    const secrets = Object.fromEntries(SECRET_FIELDS.map((name) => [name, `secret-value-of-${name}`]));
    logger.debug({ grant: { ...secrets, grant_type: "refresh_token" } }, "a grant's parameters");
    logger.info(
      { req: { headers: { authorization: "Bearer secret-bearer", cookie: "sid=secret-cookie", host: "h" } } },
      "a request",
    );
    expect(lines).toHaveLength(2);
    const [grant, request] = lines.map((line) => JSON.parse(line));
    for (const name of SECRET_FIELDS) expect(grant.grant[name], name).toBe("[redacted]");
    expect(grant.grant.grant_type).toBe("refresh_token"); // not everything is dropped
    expect(request.req.headers).toEqual({ authorization: "[redacted]", cookie: "[redacted]", host: "h" });
    expect(lines.join("\n")).not.toMatch(/secret-/);
  });
});
