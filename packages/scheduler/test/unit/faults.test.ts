import { afterAll, afterEach, describe, expect, it } from "vitest";
import { checkHealth } from "../../src/reconcile/health";
import { acquire, reportFailure, reportSuccess } from "../../src/routing/acquire";
import { ReplicaFaults } from "../../src/routing/faults";
import { bringLive, closeSharedDatabase, deploymentOf, type UnitWorld, unitWorld } from "./fakes";

/** healthInterval is 200 ms and replicaFailures 3 in these worlds. */
describe("replicas out of rotation", () => {
  afterAll(closeSharedDatabase);
  let w: UnitWorld | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });
  const now = () => new Date(w!.clock.now());

  /** A live deployment of org/dyn-a and a twin of it (a second replica), with probes counted. */
  async function twoReplicas() {
    w = await unitWorld();
    const live = await bringLive(w, "org/dyn-a");
    const twin = { ...live, id: "dep_twin", port: (live.port ?? 0) + 1 };
    w.res.snapshot.remember(twin);
    const url = `http://${live.host}:${live.port}`;
    w.ready.set(`http://${twin.host}:${twin.port}`, true);
    const probed: string[] = [];
    const probe = w.res.probe;
    (w.res as { probe: typeof probe }).probe = (base, model, headers) => {
      probed.push(base);
      return probe(base, model, headers);
    };
    // Both replicas just had their regular health check.
    await checkHealth(w.res, now());
    probed.length = 0;
    return { live, twin, url, probed };
  }
  /** The replicas `n` requests in flight at once are spread over. */
  const picks = (n: number) => {
    const replicas = Array.from({ length: n }, () => acquire(w!.res, "lab", "org/dyn-a"));
    for (const replica of replicas) replica?.release();
    return new Set(replicas.map((replica) => replica?.deploymentId));
  };

  it("skips a replica whose connection failed at once, probes it now, and puts it back when healthy", async () => {
    const { live, twin, url, probed } = await twoReplicas();
    const wakes = w!.wakes;
    w!.ready.set(url, false); // the server is gone
    reportFailure(w!.res, live.id, "unreachable");
    expect(picks(4)).toEqual(new Set([twin.id]));
    expect(w!.wakes).toBe(wakes + 1); // the loop is asked to probe it now, not at the next interval

    await checkHealth(w!.res, now());
    expect(probed).toEqual([url]); // only the suspect, well within the 200 ms interval
    expect(picks(4)).toEqual(new Set([twin.id])); // the probe failed: still out
    w!.clock.advance(100);
    await checkHealth(w!.res, now());
    expect(probed).toEqual([url]); // the next probe waits an interval

    w!.ready.set(url, true); // a replacement listens there again
    w!.clock.advance(100);
    await checkHealth(w!.res, now());
    expect(picks(4)).toEqual(new Set([live.id, twin.id]));
    expect(deploymentOf(w!, "org/dyn-a")?.state).toBe("live");
  });

  it("takes a replica out after replicaFailures timeouts in a row, and back once a health check passes", async () => {
    const { live, twin, probed } = await twoReplicas();
    reportFailure(w!.res, live.id, "timeout");
    reportFailure(w!.res, live.id, "timeout");
    reportSuccess(w!.res, live.id); // an answer in between: the count starts again
    reportFailure(w!.res, live.id, "timeout");
    reportFailure(w!.res, live.id, "timeout");
    expect(picks(4)).toEqual(new Set([live.id, twin.id]));
    reportFailure(w!.res, live.id, "timeout"); // the third in a row
    expect(picks(4)).toEqual(new Set([twin.id]));
    reportSuccess(w!.res, live.id); // a slow answer still in flight does not bring it back
    expect(picks(4)).toEqual(new Set([twin.id]));

    // A server that hangs on requests may answer its health check: it stays out an interval first.
    await checkHealth(w!.res, now());
    expect(probed).toEqual([]);
    expect(picks(2)).toEqual(new Set([twin.id]));
    w!.clock.advance(200);
    await checkHealth(w!.res, now());
    expect(picks(4)).toEqual(new Set([live.id, twin.id]));
  });

  it("keeps counting timeouts across passing health checks: a hung server may still answer /health", async () => {
    const { live, twin } = await twoReplicas();
    reportFailure(w!.res, live.id, "timeout");
    w!.clock.advance(200);
    await checkHealth(w!.res, now()); // the leader's regular check of every live server passes
    reportFailure(w!.res, live.id, "timeout");
    w!.clock.advance(200);
    await checkHealth(w!.res, now());
    reportFailure(w!.res, live.id, "timeout"); // the third in a row, health checks or not
    expect(picks(4)).toEqual(new Set([twin.id]));
  });

  it("on a follower, probes only the replicas out of its rotation and changes no state", async () => {
    const { live, twin, url, probed } = await twoReplicas();
    w!.ready.set(url, false);
    reportFailure(w!.res, live.id, "unreachable");
    for (let i = 0; i < 3; i++) {
      w!.clock.advance(200);
      await checkHealth(w!.res, now(), { leader: false });
    }
    expect(probed).toEqual([url, url, url]); // never the healthy twin
    expect(deploymentOf(w!, "org/dyn-a")?.state).toBe("live"); // the leader decides that
    expect(picks(2)).toEqual(new Set([twin.id]));
  });

  it("forgets a deployment that is no longer live", () => {
    const faults = new ReplicaFaults();
    faults.failed("a", "unreachable", 0, 3, 200);
    expect(faults.inRotation("a")).toBe(false);
    faults.retain(new Set(["b"]));
    expect(faults.inRotation("a")).toBe(true);
    expect(faults.strikesOf("a")).toBe(0);
  });
});
