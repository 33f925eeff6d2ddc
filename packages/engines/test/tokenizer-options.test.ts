import { describe, expect, it } from "vitest";
import {
  countTokens,
  embeddingVector,
  parseSimulatorOptions,
  SimulatorOptionsError,
  simulatorOptionsFromFlags,
  tokenize,
} from "../src";

describe("the simulator's tokenizer", () => {
  it.each([
    ["", []],
    ["Hello, world!", ["Hello", ",", " world", "!"]],
    ["  two  spaces ", ["  two", "  spaces", " "]],
    ["extraordinary", ["extraord", "inary"]],
    ["a_b1 2.5", ["a_b1", " 2", ".", "5"]],
    ["naïve café", ["naïve", " café"]],
    ["line\nbreak", ["line", "\nbreak"]],
  ])("splits %j into %j", (text, tokens) => {
    expect(tokenize(text)).toEqual(tokens);
    expect(countTokens(text)).toBe(tokens.length);
  });

  it("is lossless and counts what it splits", () => {
    const samples = [
      "The quick brown fox, 42 times!",
      '{"city":"Paris"}',
      "\t tabs\tand\u00a0nbsp ",
      "日本語のテキスト",
    ];
    for (const text of samples) {
      expect(tokenize(text).join("")).toBe(text);
      expect(countTokens(text)).toBe(tokenize(text).length);
    }
  });
});

describe("embedding vectors", () => {
  it("are unit vectors, deterministic per input and seed", () => {
    const a = embeddingVector(0, "hello", 32, 32);
    expect(Math.hypot(...a)).toBeCloseTo(1, 5);
    expect(embeddingVector(0, "hello", 32, 32)).toEqual(a);
    expect(embeddingVector(1, "hello", 32, 32)).not.toEqual(a);
    expect(embeddingVector(0, "hullo", 32, 32)).not.toEqual(a);
    expect(embeddingVector(0, [1, 2, 3], 32, 32)).toEqual(embeddingVector(0, [1, 2, 3], 32, 32));
  });
});

describe("simulator options", () => {
  it("fills the defaults", () => {
    expect(parseSimulatorOptions({ model: "m" })).toEqual({
      model: "m",
      host: "127.0.0.1",
      port: 0,
      capabilities: ["chat", "completions"],
      loadTime: 0,
      timeToFirstToken: 0.05,
      tokensPerSecond: 40,
      maxConcurrency: 256,
      embeddingDimensions: 1024,
      maxModelLen: 32768,
      seed: 0,
      profile: "realistic",
      failRate: 0,
      failStatus: 500,
      defaultMaxTokens: 16,
      answerTokens: { min: 16, max: 48 },
      logLevel: "info",
    });
  });

  it("reads every command-line flag", () => {
    const options = simulatorOptionsFromFlags({
      model: "org/m",
      host: "0.0.0.0",
      port: "8001",
      capabilities: "chat, tools,reasoning",
      loadTime: "2s",
      ttft: "50ms",
      tokensPerSecond: "40",
      maxConcurrency: "8",
      embeddingDimensions: "768",
      maxModelLen: "4096",
      seed: "7",
      profile: "fast",
      failRate: "0.1",
      failStatus: "503",
      crashAfterRequests: "3",
      crashAfter: "1m",
      defaultMaxTokens: "32",
      answerTokens: "10-20",
      logLevel: "debug",
    });
    expect(options).toEqual({
      model: "org/m",
      host: "0.0.0.0",
      port: 8001,
      capabilities: ["chat", "tools", "reasoning"],
      loadTime: 2,
      timeToFirstToken: 0.05,
      tokensPerSecond: 40,
      maxConcurrency: 8,
      embeddingDimensions: 768,
      maxModelLen: 4096,
      seed: 7,
      profile: "fast",
      failRate: 0.1,
      failStatus: 503,
      crashAfterRequests: 3,
      crashAfter: 60,
      defaultMaxTokens: 32,
      answerTokens: { min: 10, max: 20 },
      logLevel: "debug",
    });
    expect(simulatorOptionsFromFlags({ model: "m", loadTime: "1.5", answerTokens: "12" })).toMatchObject({
      loadTime: 1.5,
      answerTokens: { min: 12, max: 12 },
    });
  });

  it("names every bad flag", () => {
    let error: unknown;
    try {
      simulatorOptionsFromFlags({
        model: "m",
        loadTime: "soon",
        failRate: "2",
        capabilities: "chat,telepathy",
        port: "http",
        profile: "turbo",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SimulatorOptionsError);
    const problems = (error as SimulatorOptionsError).problems.join("\n");
    expect(problems).toMatch(/--load-time: 'soon' is not a duration/);
    expect(problems).toMatch(/--port: 'http' is not a number/);
    expect(problems).toMatch(/--fail-rate '2'/);
    expect(problems).toMatch(/--capabilities 'chat,telepathy'/);
    expect(problems).toMatch(/--profile 'turbo'/);
    expect(() => simulatorOptionsFromFlags({})).toThrow(/--model is required/);
    expect(() => simulatorOptionsFromFlags({ model: "m", capabilities: "tools" })).toThrow(
      /needs at least one of chat, completions, embedding/,
    );
  });
});
