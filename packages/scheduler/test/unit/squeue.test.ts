import { describe, expect, it } from "vitest";
import { observationOf, parseSinfo, parseSlurmTime, parseSqueueLine } from "../../src/launchers/slurm-status";

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

/** Lines Slurm 22.05 printed on this machine after `scontrol update nodename=vm state=drain|down`. */
describe("what a job's line means when its node goes down or is drained", () => {
  const line = (text: string) => parseSqueueLine(text)!;
  const drained = parseSinfo("vm|drained|maintenance: disk swap\n");
  const downDrained = parseSinfo("vm|down+drain|nd down test\n");
  const requiredDown = "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions";

  it("a job waiting for drained nodes: pending, reason names the nodes, no start estimate", () => {
    // %S can carry a far-off guess even then; an ETA from it would mislead.
    const seen = observationOf("dep_q", line(`119|sy-dep_q|PENDING||dep_q|/s|1796502623|${requiredDown}`), {
      nodes: drained,
    });
    expect(seen).toEqual({
      deploymentId: "dep_q",
      jobId: "119",
      phase: "pending",
      reason: `nodes DOWN/DRAINED: vm drained (maintenance: disk swap) (${requiredDown})`,
    });
    expect(
      observationOf("dep_q", line("7|sy-dep_q|PENDING||dep_q|/s|N/A|ReqNodeNotAvail, UnavailableNodes:vm")),
    ).toMatchObject({
      phase: "pending",
      reason: "nodes DOWN/DRAINED (ReqNodeNotAvail, UnavailableNodes:vm)",
    });
  });

  it("a job Slurm requeued after it ran on a node set down: lost, with the node's state and reason", () => {
    const requeued = line("118|sy-dep_r|PENDING||dep_r|/s|1796502623|BeginTime");
    expect(observationOf("dep_r", requeued, { ranOn: "vm", nodes: downDrained })).toEqual({
      deploymentId: "dep_r",
      jobId: "118",
      phase: "pending",
      lost: true,
      reason: "Slurm took the job off node vm and requeued it: vm down+drain (nd down test)",
    });
    // Never seen running (a fresh submission waiting its turn): an ordinary pending job.
    expect(observationOf("dep_r", requeued)).toEqual({
      deploymentId: "dep_r",
      jobId: "118",
      phase: "pending",
      reason: "BeginTime",
      estimatedStart: new Date(1796502623 * 1000),
    });
  });

  it("a job that ended with NODE_FAIL says which node and why; other ends as before", () => {
    expect(
      observationOf("dep_f", line("120|sy-dep_f|NODE_FAIL|vm|dep_f|/s|1796502623|NodeDown"), { nodes: downDrained }),
    ).toEqual({
      deploymentId: "dep_f",
      jobId: "120",
      phase: "exited",
      reason: "the Slurm job ended because its node failed (node_fail on vm): vm down+drain (nd down test)",
    });
    expect(observationOf("dep_f", line("121|sy-dep_f|CANCELLED|vm|dep_f|/s|N/A|None"))).toMatchObject({
      phase: "exited",
      reason: "the Slurm job ended (cancelled)",
    });
  });

  it("a running job on a draining node keeps running (drain stops only new work)", () => {
    expect(
      observationOf("dep_d", line("122|sy-dep_d|RUNNING|vm|dep_d|/s|1796502623|None"), { nodes: drained }),
    ).toEqual({
      deploymentId: "dep_d",
      jobId: "122",
      phase: "running",
      node: "vm",
    });
  });

  it("reads sinfo's node lines; healthy nodes are not named as trouble", () => {
    expect(parseSinfo("vm|idle|none\ngpu2|down*|Not responding\n")).toEqual(
      new Map([
        ["vm", { state: "idle", reason: "none" }],
        ["gpu2", { state: "down*", reason: "Not responding" }],
      ]),
    );
  });
});
