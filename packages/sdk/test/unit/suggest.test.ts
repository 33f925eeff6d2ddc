import { describe, expect, it } from "vitest";
import { closestNames, editDistance, orList } from "../../src/cli/suggest";

const catalog = ["org/chat", "chatty", "org/embed", "meta-llama/Llama-3.1-8B-Instruct", "llama-8b", "llama-70b"];

describe("did you mean", () => {
  it("counts edits, a swap of neighbours as one", () => {
    expect([editDistance("chat", "chat"), editDistance("chta", "chat"), editDistance("chat", "chats")]).toEqual([
      0, 1, 1,
    ]);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("finds typos, case slips, prefixes and names without their organisation", () => {
    expect(closestNames("org/chta", catalog)).toEqual(["org/chat"]);
    expect(closestNames("chaty", catalog)).toEqual(["chatty"]);
    expect(closestNames("ORG/EMBED", catalog)).toEqual(["org/embed"]);
    expect(closestNames("embed", catalog)).toEqual(["org/embed"]);
    expect(closestNames("llama-9b", catalog)).toEqual(["llama-8b"]);
    expect(closestNames("Llama-3.1-8B", catalog)).toEqual(["meta-llama/Llama-3.1-8B-Instruct"]);
  });

  it("names a model once, by the closest of its id and aliases", () => {
    const models = [
      ["org/batchy", "batchy"],
      ["org/chat", "chatty"],
    ];
    expect(closestNames("org/bathcy", models)).toEqual(["org/batchy"]);
    expect(closestNames("bathcy", models)).toEqual(["batchy"]);
    expect(closestNames("chaty", models)).toEqual(["chatty"]);
  });

  it("suggests nothing when nothing is close", () => {
    expect(closestNames("acme/nothing", catalog)).toEqual([]);
    expect(closestNames("gpt-4o", catalog)).toEqual([]);
  });

  it("lists ties as people write them", () => {
    expect(closestNames("llama-0b", catalog)).toEqual(["llama-70b", "llama-8b"]);
    expect([orList(["a"]), orList(["a", "b"]), orList(["a", "b", "c"])]).toEqual(["a", "a or b", "a, b or c"]);
  });
});
