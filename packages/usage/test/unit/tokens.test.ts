import { describe, expect, it } from "vitest";
import { type UsageNames, usageFromBuffer, usageFromJson, usageFromObject, usageNamesOf } from "../../src";

describe("token counts of an answer", () => {
  it("reads OpenAI's names from the usage object only, not from the generated text", () => {
    const answer = JSON.stringify({
      choices: [{ message: { content: '"prompt_tokens": 999' } }],
      usage: { prompt_tokens: 12, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 2 } },
    });
    expect(usageFromJson(answer, "prompt")).toEqual({ prompt: 12, completion: 4 });
    expect(usageFromBuffer(Buffer.from(answer), "prompt")).toEqual({ prompt: 12, completion: 4 });
    // Embeddings report no completion.
    const embeddings = JSON.stringify({ data: [], usage: { prompt_tokens: 3, total_tokens: 3 } });
    expect(usageFromJson(embeddings, "prompt")).toEqual({ prompt: 3, completion: 0 });
  });

  it("reads the Responses and Messages names, either count alone", () => {
    const responses = JSON.stringify({ output: [], usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 } });
    expect(usageFromBuffer(Buffer.from(responses), "input")).toEqual({ prompt: 5, completion: 2 });
    expect(usageFromJson(JSON.stringify({ usage: { output_tokens: 6 } }), "input")).toEqual({
      prompt: 0,
      completion: 6,
    });
  });

  it("says nothing when the answer reports nothing", () => {
    expect(usageFromJson(JSON.stringify({ choices: [] }), "prompt")).toBeUndefined();
    expect(usageFromJson(JSON.stringify({ choices: [], usage: null }), "prompt")).toBeUndefined();
    expect(usageFromBuffer(Buffer.from(JSON.stringify({ usage: { total_tokens: 4 } })), "input")).toBeUndefined();
    // The other API's names are not this one's.
    expect(usageFromJson(JSON.stringify({ usage: { input_tokens: 5 } }), "prompt")).toBeUndefined();
  });

  it("reads the same counts off an answer already parsed (the batch worker's way)", () => {
    const answers: [unknown, UsageNames][] = [
      [
        {
          choices: [{ message: { content: '"prompt_tokens": 999' } }],
          usage: { prompt_tokens: 12, completion_tokens: 4 },
        },
        "prompt",
      ],
      [{ data: [], usage: { prompt_tokens: 3, total_tokens: 3 } }, "prompt"],
      [{ output: [], usage: { input_tokens: 5, output_tokens: 2 } }, "input"],
      [{ usage: { output_tokens: 6 } }, "input"],
      [{ usage: { input_tokens: 5 } }, "prompt"],
      [{ usage: { total_tokens: 4 } }, "input"],
      [{ choices: [], usage: null }, "prompt"],
      [{ choices: [] }, "prompt"],
    ];
    for (const [answer, names] of answers) {
      expect(usageFromObject(answer, names)).toEqual(usageFromJson(JSON.stringify(answer), names));
    }
    expect(usageFromObject("not an object", "prompt")).toBeUndefined();
  });

  it("knows which names each API path uses", () => {
    expect(usageNamesOf("/v1/chat/completions")).toBe("prompt");
    expect(usageNamesOf("/v1/completions")).toBe("prompt");
    expect(usageNamesOf("/v1/embeddings")).toBe("prompt");
    expect(usageNamesOf("/v1/responses")).toBe("input");
    expect(usageNamesOf("/v1/messages")).toBe("input");
  });
});
