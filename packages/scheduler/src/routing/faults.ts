/** A failure of a request to a replica that says something about the replica itself. */
export type ReplicaFailure = "timeout" | "unreachable";

interface FaultRecord {
  /** Timeouts and refused or broken connections in a row. */
  strikes: number;
  /** Out of rotation: `acquire` skips it until a health probe passes. */
  out: boolean;
  /** When the next probe of a replica out of rotation is due (ms, the injected clock). */
  probeAt: number;
}

/**
 * What this process saw of its requests to each live replica, as a pure record of events and
 * times (every method takes `now`; nothing reads a clock):
 * - a refused or broken connection (`unreachable`) takes the replica out of rotation at once
 *   and asks for a probe now: a server that died refuses every request after it;
 * - `limit` timeouts (or failures of either kind) in a row take it out too, with the first
 *   probe one `retryMs` later (a server that hangs on requests may still answer its health
 *   check, so it spends at least that long out);
 * - an answer clears the count of a replica in rotation;
 * - a passed probe puts a replica out of rotation back with a clean count, a failed one leaves
 *   it out until the next probe, `retryMs` later; probes of replicas in rotation change nothing
 *   here (a server that hangs on requests may pass every health check).
 * The reconcile loop probes what `due` lists; a deployment that is no longer live is forgotten.
 */
export class ReplicaFaults {
  private readonly byId = new Map<string, FaultRecord>();

  /** Count a failure; true when it took the replica out of rotation just now. */
  failed(id: string, failure: ReplicaFailure, now: number, limit: number, retryMs: number): boolean {
    const record = this.byId.get(id) ?? { strikes: 0, out: false, probeAt: 0 };
    this.byId.set(id, record);
    record.strikes++;
    if (record.out) return false;
    if (failure === "unreachable") {
      record.out = true;
      record.probeAt = now;
    } else if (record.strikes >= limit) {
      record.out = true;
      record.probeAt = now + retryMs;
    }
    return record.out;
  }

  /** A request got an answer: the count starts again (a replica out of rotation stays out). */
  answered(id: string): void {
    const record = this.byId.get(id);
    if (record && !record.out) this.byId.delete(id);
  }

  inRotation(id: string): boolean {
    return this.byId.get(id)?.out !== true;
  }

  /** Failures in a row so far. */
  strikesOf(id: string): number {
    return this.byId.get(id)?.strikes ?? 0;
  }

  /** Whether a replica out of rotation is due for a probe at `now`. */
  due(id: string, now: number): boolean {
    const record = this.byId.get(id);
    return record?.out === true && record.probeAt <= now;
  }

  /**
   * A health probe's result: a replica out of rotation goes back (with a clean count), or stays
   * out until `retryMs` from now. A replica in rotation keeps its count of failed requests: a
   * server that hangs on requests may pass every health check, and only an answered request
   * says it works.
   */
  probed(id: string, ready: boolean, now: number, retryMs: number): void {
    const record = this.byId.get(id);
    if (!record?.out) return;
    if (ready) this.byId.delete(id);
    else record.probeAt = now + retryMs;
  }

  /** Forget replicas that are not live any more (stopped, failed, or back to starting). */
  retain(live: ReadonlySet<string>): void {
    for (const id of this.byId.keys()) if (!live.has(id)) this.byId.delete(id);
  }
}
