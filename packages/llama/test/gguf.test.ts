import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { getLlama, readGgufFileInfo } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import {
  buildVocabulary,
  CHATML_TEMPLATE,
  ensureGeneratedModel,
  generatedModelDataBytes,
  generatedModelPath,
  modelShape,
  parseGeneratedModelRef,
  resolveModelFile,
} from "../src/gguf";

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "sy-gguf-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("generated GGUF models", () => {
  it("are the same bytes every time they are generated, and differ with the seed", () => {
    const first = ensureGeneratedModel({ kind: "chat", size: "tiny" }, freshDir());
    const second = ensureGeneratedModel({ kind: "chat", size: "tiny" }, freshDir());
    const reseeded = ensureGeneratedModel({ kind: "chat", size: "tiny", seed: 7 }, freshDir());
    expect(sha256(first)).toBe(sha256(second));
    expect(sha256(reseeded)).not.toBe(sha256(first));
    // About half a megabyte: small enough for every test run.
    expect(statSync(first).size).toBeGreaterThan(300_000);
    expect(statSync(first).size).toBeLessThan(800_000);
  });

  it("are cached: a second request for the same model returns the file already written", () => {
    const dir = freshDir();
    const file = ensureGeneratedModel({ kind: "embedding", size: "tiny" }, dir);
    const written = statSync(file).mtimeMs;
    expect(ensureGeneratedModel({ kind: "embedding", size: "tiny" }, dir)).toBe(file);
    expect(statSync(file).mtimeMs).toBe(written);
    expect(resolveModelFile("generated:tiny-embedding", dir)).toBe(file);
    expect(resolveModelFile("/models/real.gguf", dir)).toBe("/models/real.gguf");
  });

  it("come in sizes from about 0.5 MB for tests to about 50 MB for benchmarks", () => {
    expect(generatedModelDataBytes("tiny") / 1e6).toBeCloseTo(0.6, 0);
    expect(generatedModelDataBytes("small") / 1e6).toBeGreaterThan(3);
    expect(generatedModelDataBytes("small") / 1e6).toBeLessThan(8);
    expect(generatedModelDataBytes("bench") / 1e6).toBeGreaterThan(45);
    expect(generatedModelDataBytes("bench") / 1e6).toBeLessThan(60);
  });

  it("say what they are in their metadata, as llama.cpp's own reader sees it", async () => {
    const file = ensureGeneratedModel({ kind: "chat", size: "tiny" }, freshDir());
    const info = await readGgufFileInfo(file);
    const vocabulary = buildVocabulary();
    expect(info.version).toBe(3);
    expect(info.metadata.general.architecture).toBe("llama");
    expect(info.metadata.tokenizer.ggml.model).toBe("llama");
    expect(info.metadata.tokenizer.ggml.tokens).toEqual(vocabulary.tokens);
    expect(info.metadata.tokenizer.chat_template).toBe(CHATML_TEMPLATE);
    // Byte fallback: all 256 byte tokens are there.
    expect(vocabulary.tokens.filter((t) => /^<0x[0-9A-F]{2}>$/.test(t))).toHaveLength(256);
    const llamaMetadata = info.metadata.llama as { embedding_length: number; block_count: number };
    expect(llamaMetadata.embedding_length).toBe(modelShape("tiny").embeddingLength);
    expect(info.tensorInfo?.map((t) => t.name)).toContain("blk.1.ffn_down.weight");

    const embedding = await readGgufFileInfo(ensureGeneratedModel({ kind: "embedding", size: "tiny" }, freshDir()));
    expect(embedding.metadata.tokenizer.chat_template).toBeUndefined();
    expect((embedding.metadata.llama as { pooling_type?: number }).pooling_type).toBe(1);
  });

  it("load in node-llama-cpp, tokenize any text (bytes for what the vocabulary lacks) and generate", async () => {
    const file = ensureGeneratedModel({ kind: "chat", size: "tiny" }, freshDir());
    const llama = await getLlama({ gpu: false, build: "never", maxThreads: 1, progressLogs: false });
    try {
      const model = await llama.loadModel({ modelPath: file });
      const text = "hello world, the model's answer: ünïcode 42!";
      const tokens = model.tokenize(text);
      expect(model.detokenize(tokens)).toBe(text);
      // Whole words are single tokens; characters outside the vocabulary fall back to UTF-8 bytes.
      expect(model.tokenize(" model")).toHaveLength(1);
      expect(model.tokenize("ü")).toHaveLength(2);
      const context = await model.createContext({ contextSize: 256, threads: 1 });
      const generated: number[] = [];
      for await (const token of context.getSequence().evaluate(model.tokenize("the answer"), { temperature: 0 })) {
        generated.push(token);
        if (generated.length === 8) break;
      }
      expect(generated).toHaveLength(8);
      await context.dispose();
      await model.dispose();
    } finally {
      await llama.dispose();
    }
  });

  it("are named generated:<size>-<kind>[-s<seed>], and a wrong name says the right form", () => {
    expect(parseGeneratedModelRef("generated:bench-chat")).toEqual({ size: "bench", kind: "chat" });
    expect(parseGeneratedModelRef("generated:tiny-embedding-s3")).toEqual({ size: "tiny", kind: "embedding", seed: 3 });
    expect(parseGeneratedModelRef("/models/x.gguf")).toBeUndefined();
    expect(() => parseGeneratedModelRef("generated:huge-chat")).toThrow(
      /generated:<tiny\|small\|bench>-<chat\|embedding>/,
    );
    expect(path.basename(generatedModelPath({ kind: "chat", size: "tiny" }, "/c"))).toMatch(
      /^tiny-chat-[0-9a-f]{12}\.gguf$/,
    );
  });
});
