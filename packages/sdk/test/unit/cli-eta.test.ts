import { Writable } from "node:stream";
import type { ModelObject } from "@switchyard/core";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { renderModels } from "../../src/cli/commands/models";
import { CliContext } from "../../src/cli/context";
import { formatEta } from "../../src/cli/output";

/** A terminal that keeps what `sy models` writes to it. */
function terminal(): { stream: Writable & { isTTY: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY: true },
  );
  return { stream, text: () => chunks.join("") };
}

const model = (id: string, fields: Partial<ModelObject>): ModelObject => ({
  id,
  object: "model",
  created: 0,
  owned_by: "org",
  status: "queued",
  capabilities: ["chat"],
  cluster: "lab",
  framework: "vllm",
  max_model_len: null,
  aliases: [],
  placement: "dynamic",
  engine: "vllm",
  queue_position: 1,
  eta_seconds: null,
  status_reason: null,
  ...fields,
});

describe("what sy models shows for a model's ETA", () => {
  it("says a queued model's ETA is unknown when the server cannot say, never ~0 s", () => {
    const out = terminal();
    const ctx = new CliContext(
      new Command(),
      { NO_COLOR: "1", HOME: "/nonexistent" },
      process.stdin,
      out.stream,
      out.stream,
    );
    renderModels(ctx, [
      model("org/waiting", { queue_position: 1, eta_seconds: null, status_reason: "waiting in Slurm: Resources" }),
      model("org/next", { queue_position: 2, eta_seconds: 95 }),
      model("org/tiny", { queue_position: 3, eta_seconds: 0.3 }),
      model("org/loading", { status: "starting", queue_position: null, eta_seconds: 12 }),
    ]);
    const rows = out.text().split("\n");
    expect(rows.find((r) => r.startsWith("org/waiting"))).toContain("Queued #1 (ETA unknown)");
    expect(rows.find((r) => r.startsWith("org/next"))).toContain("Queued #2 (~2 min)");
    expect(rows.find((r) => r.startsWith("org/tiny"))).toContain("Queued #3 (< 1 s)");
    expect(rows.find((r) => r.startsWith("org/loading"))).toContain("Starting (~12 s)");
    expect(out.text()).not.toContain("~0 s");
  });

  it("formats ETAs: unknown for null, under a second, then rounded durations", () => {
    expect([null, undefined, 0, 0.4, 1.8, 59, 600].map(formatEta)).toEqual([
      "unknown",
      "unknown",
      "< 1 s",
      "< 1 s",
      "~2 s",
      "~59 s",
      "~10 min",
    ]);
  });
});
