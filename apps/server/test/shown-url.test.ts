import { describe, expect, it } from "vitest";
import { shownUrl } from "../src/commands/options";

describe("the URL serve shows for where it listens", () => {
  it("shows a wildcard host as 127.0.0.1 and brackets an IPv6 host", () => {
    expect(shownUrl("127.0.0.1", 8080)).toBe("http://127.0.0.1:8080");
    expect(shownUrl("0.0.0.0", 8080)).toBe("http://127.0.0.1:8080");
    expect(shownUrl("::1", 9000)).toBe("http://[::1]:9000");
    expect(shownUrl("gpu-login.example.org", 80)).toBe("http://gpu-login.example.org:80");
  });
});
