import { describe, expect, it } from "vitest";
import { parseSlurmTime, parseSqueueLine } from "../../src/launchers/slurm";

/** Lines as `squeue -h -o "%i|%j|%T|%N|%k|%Z|%S|%r"` prints them with `SLURM_TIME_FORMAT=%s` (Slurm 22.05). */
describe("reading squeue's lines", () => {
  it("takes a pending job's estimated start from %S", () => {
    const line = "98|sy-dep_a1|PENDING||dep_a1|/var/lib/sy/slurm|1796502623|Resources";
    expect(parseSqueueLine(line)).toEqual({
      jobId: "98",
      name: "sy-dep_a1",
      state: "PENDING",
      nodes: "",
      comment: "dep_a1",
      workDir: "/var/lib/sy/slurm",
      start: new Date(1796502623 * 1000),
      reason: "Resources",
    });
  });

  it("has no estimate when Slurm has none (a held job: N/A)", () => {
    const parsed = parseSqueueLine("97|sy-dep_b2|PENDING||dep_b2|/var/lib/sy/slurm|N/A|JobHeldUser");
    expect(parsed).toMatchObject({ state: "PENDING", reason: "JobHeldUser" });
    expect(parsed).not.toHaveProperty("start");
  });

  it("keeps a reason that contains the separator whole", () => {
    expect(parseSqueueLine("12|sy-dep_c|PENDING||dep_c|/s|N/A|a|b")?.reason).toBe("a|b");
  });

  it("skips lines that are not ours or not whole", () => {
    expect(parseSqueueLine("")).toBeUndefined();
    expect(parseSqueueLine("12|sy-dep_c|PENDING")).toBeUndefined();
  });

  it("reads Slurm's default time format as local time should SLURM_TIME_FORMAT be ignored", () => {
    expect(parseSlurmTime("2026-12-05T20:30:23")?.getTime()).toBe(new Date(2026, 11, 5, 20, 30, 23).getTime());
    for (const none of ["N/A", "Unknown", "None", "", "0", undefined]) expect(parseSlurmTime(none)).toBeUndefined();
  });
});
