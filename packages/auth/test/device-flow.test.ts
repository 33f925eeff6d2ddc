import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, call, type Harness, PASSWORD, post, startHarness } from "./harness";

const drivers = await testDrivers();
const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

describe.each(drivers)("device login (RFC 8628) on %s", (driver) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(driver);
    await addUser(h, "ada", { groups: ["physics"] });
  });
  afterAll(() => h.close());

  /** What a browser does: open the verification page, fill the form, submit it. */
  async function approveInBrowser(verificationUriComplete: string, action: "approve" | "deny", password = PASSWORD) {
    const page = await fetch(verificationUriComplete);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const html = await page.text();
    const prefilled = /name="user_code" value="([^"]*)"/.exec(html)?.[1];
    expect(html).toMatch(/<form method="post" action="\/device">/);
    const res = await fetch(new URL("/device", verificationUriComplete), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ user_code: prefilled ?? "", username: "ada", password, action }),
    });
    return { status: res.status, html: await res.text() };
  }

  it("runs the whole flow: code, pending polls, approval in the browser, tokens", async () => {
    const start = await post(`${h.url}/auth/device/code`, { client_id: "sy-cli" });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({
      device_code: expect.stringMatching(/^syd_/),
      user_code: expect.stringMatching(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/),
      verification_uri: `${h.url}/device`,
      expires_in: 600,
      interval: 5,
    });
    expect(start.body.verification_uri_complete).toBe(`${h.url}/device?user_code=${start.body.user_code}`);
    const poll = () =>
      post(`${h.url}/auth/token`, {
        grant_type: DEVICE_GRANT,
        device_code: String(start.body.device_code),
        client_id: "sy-cli",
      });

    const pending = await poll();
    expect(pending).toMatchObject({ status: 400, body: { error: "authorization_pending" } });
    expect(pending.headers.get("cache-control")).toBe("no-store");

    const tooFast = await poll();
    expect(tooFast.body).toMatchObject({ error: "slow_down" });

    const wrong = await approveInBrowser(String(start.body.verification_uri_complete), "approve", "not the password");
    expect(wrong.status).toBe(401);
    expect(wrong.html).toContain("Wrong username or password");

    h.clock.advance(10_000);
    expect((await poll()).body).toMatchObject({ error: "authorization_pending" });

    const approved = await approveInBrowser(String(start.body.verification_uri_complete), "approve");
    expect(approved.status).toBe(200);
    expect(approved.html).toContain("Device approved");

    h.clock.advance(11_000);
    const tokens = await poll();
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({
      token_type: "Bearer",
      expires_in: 172800,
      refresh_token: expect.stringMatching(/^syr_/),
    });
    const me = await call(h, "/v1/me", String(tokens.body.access_token));
    expect(me.body).toMatchObject({ username: "ada", groups: ["physics"], authenticated_via: "access_token" });

    // The code is spent: polling again does not mint more tokens.
    h.clock.advance(11_000);
    expect((await poll()).body).toMatchObject({ error: "invalid_grant" });
  });

  it("accepts JSON as well as form bodies, and answers access_denied after a denial", async () => {
    const start = await post(`${h.url}/auth/device/code`, { client_id: "sy-cli" }, true);
    expect(start.status).toBe(200);
    const denied = await approveInBrowser(String(start.body.verification_uri_complete), "deny");
    expect(denied.html).toContain("Request denied");
    const poll = await post(
      `${h.url}/auth/token`,
      { grant_type: DEVICE_GRANT, device_code: String(start.body.device_code), client_id: "sy-cli" },
      true,
    );
    expect(poll.body).toMatchObject({ error: "access_denied" });
  });

  it("expires an unused code", async () => {
    const start = await post(`${h.url}/auth/device/code`, {});
    h.clock.advance(601_000);
    const poll = await post(`${h.url}/auth/token`, {
      grant_type: DEVICE_GRANT,
      device_code: String(start.body.device_code),
    });
    expect(poll.body).toMatchObject({ error: "expired_token" });
    const page = await fetch(`${h.url}/device`, {
      method: "POST",
      body: new URLSearchParams({ user_code: String(start.body.user_code), username: "ada", password: PASSWORD }),
    });
    expect(page.status).toBe(400);
    expect(await page.text()).toContain("unknown, expired or already used");
  });

  it("takes the code the way people type it", async () => {
    const start = await post(`${h.url}/auth/device/code`, {});
    const typed = String(start.body.user_code).toLowerCase().replace("-", " ");
    const res = await fetch(`${h.url}/device`, {
      method: "POST",
      body: new URLSearchParams({ user_code: typed, username: "ada", password: PASSWORD, action: "approve" }),
    });
    expect(await res.text()).toContain("Device approved");
  });

  it("refuses a device code from another client and bad requests in the RFC 6749 shape", async () => {
    const start = await post(`${h.url}/auth/device/code`, { client_id: "sy-cli" });
    const other = await post(`${h.url}/auth/token`, {
      grant_type: DEVICE_GRANT,
      device_code: String(start.body.device_code),
      client_id: "another",
    });
    expect(other.body).toMatchObject({ error: "invalid_grant" });
    expect((await post(`${h.url}/auth/token`, {})).body).toMatchObject({ error: "invalid_request" });
    expect((await post(`${h.url}/auth/token`, { grant_type: "implicit" })).body).toMatchObject({
      error: "unsupported_grant_type",
    });
    expect((await post(`${h.url}/auth/token`, { grant_type: DEVICE_GRANT })).body).toMatchObject({
      error: "invalid_request",
    });
    const badJson = await fetch(`${h.url}/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{nope",
    });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: "invalid_request" });
  });
});
