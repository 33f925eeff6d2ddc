import { describe, expect, it } from "vitest";
import { parseStops, readParameters } from "../src/parameters";
import { abbreviateDataUrls, snippet } from "../src/snippets";

describe("the Playground's parameter fields", () => {
  it("reads stop sequences: commas separate, spaces around them go, escapes keep commas and line breaks", () => {
    expect(parseStops("")).toEqual([]);
    expect(parseStops("END, ###,  Human:")).toEqual(["END", "###", "Human:"]);
    expect(parseStops("\\,, a\\,b ,\\n")).toEqual([",", "a,b", "\n"]);
    expect(parseStops(" , ,")).toEqual([]);
  });

  it("leaves empty fields out and explains each value out of the API's range", () => {
    expect(readParameters({ temperature: "", maxTokens: "", topP: "", stop: "" })).toEqual({ values: {}, errors: {} });
    expect(readParameters({ temperature: "0", maxTokens: "1", topP: "1", stop: "x" }).values).toEqual({
      temperature: 0,
      max_tokens: 1,
      top_p: 1,
      stop: ["x"],
    });
    const bad = readParameters({ temperature: "2.01", maxTokens: "1.5", topP: "0", stop: "" });
    expect(Object.keys(bad.errors).sort()).toEqual(["maxTokens", "temperature", "topP"]);
    expect(bad.values).toEqual({});
    expect(readParameters({ temperature: "warm", maxTokens: "-3", topP: "1.1", stop: "" }).errors).toMatchObject({
      temperature: expect.any(String),
      maxTokens: expect.any(String),
      topP: expect.any(String),
    });
    expect(readParameters({ temperature: "", maxTokens: "", topP: "", stop: "a,".repeat(65) }).errors.stop).toMatch(
      /64/,
    );
  });
});

describe("Copy as code", () => {
  const request = {
    model: "lab/hot-chat",
    messages: [
      { role: "user" as const, content: "JSON\nEOF 'quoted' \"double\" $HOME `tick`" },
      { role: "assistant" as const, content: "yes" },
    ],
    temperature: 0.5,
    stop: [],
  };

  it("writes curl with the JSON in a quoted here-document, which a message cannot end early", () => {
    const code = snippet("curl", { ...request, messages: [{ role: "user", content: "a\nJSON\nb" }] }, "http://h/v1");
    expect(code).toContain("-d @- <<'JSON'");
    expect(code).toContain('"content": "a\\nJSON\\nb"');
    expect(code.split("\n").filter((line) => line === "JSON")).toHaveLength(1);
    expect(code).toContain('-H "Authorization: Bearer $SWITCHYARD_API_KEY"');
    // An empty stop list is not sent.
    expect(code).not.toContain('"stop"');
  });

  it("writes TypeScript and Python with the key from the environment and the parameters set", () => {
    const ts = snippet("typescript", request, "http://h/v1");
    expect(ts).toContain('baseURL: "http://h/v1", apiKey: process.env.SWITCHYARD_API_KEY');
    expect(ts).toContain("temperature: 0.5,");
    const py = snippet("python", request, "http://h/v1");
    expect(py).toContain('api_key=os.environ["SWITCHYARD_API_KEY"]');
    expect(py).toContain("    temperature=0.5,");
  });

  it("shortens data: URLs for the page only", () => {
    const url = `data:image/png;base64,${"A".repeat(4096)}`;
    expect(abbreviateDataUrls(`"${url}"`)).toBe(`"data:image/png;base64,${"A".repeat(24)}… (3 kB)"`);
    expect(abbreviateDataUrls("data:text/plain;base64,aGk=")).toBe("data:text/plain;base64,aGk=");
  });
});
