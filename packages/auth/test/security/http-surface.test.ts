import { testDrivers } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addUser, type Harness, PASSWORD, passwordGrant, startHarness } from "../harness";

const drivers = await testDrivers();
const EVIL = "https://evil.example";

/** What held when tried as an attacker would, kept here so it keeps holding. */
describe.each(drivers)("the auth endpoints' HTTP surface on %s", (driver) => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startHarness(driver);
    await addUser(h, "ada");
    token = String((await passwordGrant(h, "ada")).body.access_token);
  });
  afterAll(() => h?.close());

  it("/device shows a user_code with markup in it as text, in the form and in the dashboard link", async () => {
    const payload = `"><script>alert(1)</script><img src=x onerror=alert(2)>`;
    const page = await (await fetch(`${h.url}/device?user_code=${encodeURIComponent(payload)}`)).text();
    expect(page).not.toContain("<script>");
    expect(page).not.toContain("<img");
    expect(page).toContain("&#34;&#62;&#60;script&#62;");
    expect(page).toContain(`href="/admin/device?user_code=${encodeURIComponent(payload)}"`);

    // Posting it back (an unknown code) echoes it in the error page, still as text.
    const posted = await fetch(`${h.url}/device`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ user_code: payload, username: "ada", password: PASSWORD, action: "approve" }),
    });
    expect(posted.status).toBe(400);
    const html = await posted.text();
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<img");
  });

  it("a page on another origin gets no cookies and no CORS grant from the API, preflight or not", async () => {
    const answers = [
      await fetch(`${h.url}/v1/me`, { headers: { origin: EVIL, authorization: `Bearer ${token}` } }),
      await fetch(`${h.url}/v1/me`, {
        method: "OPTIONS",
        headers: {
          origin: EVIL,
          "access-control-request-method": "GET",
          "access-control-request-headers": "authorization",
        },
      }),
      await fetch(`${h.url}/auth/token`, {
        method: "POST",
        headers: { origin: EVIL, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "password", username: "ada", password: PASSWORD }),
      }),
      await fetch(`${h.url}/device`, { headers: { origin: EVIL } }),
      await fetch(`${h.url}/.well-known/openid-configuration`, { headers: { origin: EVIL } }),
    ];
    for (const res of answers) {
      const label = `${res.url} ${res.status}`;
      expect(res.headers.get("set-cookie"), label).toBeNull();
      for (const name of res.headers.keys()) expect(name, label).not.toMatch(/^access-control-/);
    }
  });
});
