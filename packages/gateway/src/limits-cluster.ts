import cluster, { type Worker } from "node:cluster";
import type { GatewaySettings } from "@switchyard/core";
import { SwitchyardError } from "@switchyard/core";
import { type Charge, type Limits, RateLimits } from "./limits";

/**
 * Rate limits and requests in flight for the gateway workers of one `serve --workers N` without
 * Redis: counted once, in the primary process, so a limit holds across the workers. A worker's
 * calls are gathered for one turn of its event loop and sent as one IPC message; the primary
 * answers a batch with one message. A request's slot (`enter`) goes out with its charge, the
 * primary's verdict on both comes back with the charge, and its release and settlement go out
 * together at its end: one round trip per request at most, fewer at saturation, where a batch
 * carries many requests (rate-limiter-flexible's cluster limiter costs a round trip per limiter
 * per request, which cost more than a second worker gained).
 */

const CHANNEL = "switchyard:limits";
/** A call the primary has not answered in this long fails (the request gets a 503). */
const ANSWER_TIMEOUT_MS = 5000;
/**
 * Releases and settlements wait for the next batch a request's charge sends, or this long
 * (ms): half the IPC writes at saturation, a slot given back a few ms later when idle.
 */
const ONE_WAY_DELAY_MS = 5;

type User = { id: string; groups: readonly string[] };

type Op =
  | { op: "enter"; user: User; lease: string }
  | { op: "leave"; user: User; lease: string }
  | { op: "charge"; id: number; user: User; model: string; estimate: number; lease: string | undefined }
  | { op: "settle"; ref: number; tokens: number };

interface Reply {
  id: number;
  headers?: Record<string, string>;
  ref?: number;
  error?: { code: SwitchyardError["code"]; message: string; retryAfter?: number; headers: Record<string, string> };
}

interface Batch {
  channel: typeof CHANNEL;
  ops?: Op[];
  replies?: Reply[];
}

function revive(error: NonNullable<Reply["error"]>): SwitchyardError {
  const revived = new SwitchyardError(error.code, {}, { retryAfter: error.retryAfter, headers: error.headers });
  revived.message = error.message;
  return revived;
}

function unavailable(): SwitchyardError {
  return new SwitchyardError(
    "service_unavailable",
    { reason: "the gateway's primary process did not answer for the rate limits" },
    { retryAfter: 1 },
  );
}

/** A gateway worker's limits: every decision is the primary's (see above). */
export class ClusterRateLimits implements Limits {
  private sequence = 0;
  private queue: Op[] = [];
  private scheduled = false;
  private later: NodeJS.Timeout | undefined;
  private readonly waiting = new Map<number, { at: number; resolve(reply: Reply): void; reject(e: Error): void }>();
  /** Leases taken through this worker and not given back: lease -> user (for `inFlightOf`). */
  private readonly leases = new Map<string, string>();
  /** The lease of the last `enter`, which its request's `charge` carries (its verdict comes back with it). */
  private entered: { userId: string; lease: string } | undefined;
  private readonly sweep: NodeJS.Timeout;
  private readonly onMessage = (message: Batch) => {
    if (message?.channel !== CHANNEL || !message.replies) return;
    for (const reply of message.replies) {
      const pending = this.waiting.get(reply.id);
      if (!pending) continue;
      this.waiting.delete(reply.id);
      pending.resolve(reply);
    }
  };

  constructor() {
    process.on("message", this.onMessage);
    this.sweep = setInterval(() => {
      const late = Date.now() - ANSWER_TIMEOUT_MS;
      for (const [id, pending] of this.waiting) {
        if (pending.at > late) continue;
        this.waiting.delete(id);
        pending.reject(unavailable());
      }
    }, 1000);
    this.sweep.unref();
  }

  private flush = () => {
    this.scheduled = false;
    if (this.later) clearTimeout(this.later);
    this.later = undefined;
    const ops = this.queue;
    this.queue = [];
    if (ops.length > 0) process.send?.({ channel: CHANNEL, ops } satisfies Batch);
  };

  /** Queue an op: one a request waits for goes out after this turn's I/O, the others with it or a bit later. */
  private push(op: Op, waitedFor = true): void {
    this.queue.push(op);
    if (this.scheduled) return;
    if (waitedFor) {
      this.scheduled = true;
      // After this turn's I/O callbacks: the requests read together go out together.
      setImmediate(this.flush);
    } else if (!this.later) {
      this.later = setTimeout(this.flush, ONE_WAY_DELAY_MS);
      this.later.unref();
    }
  }

  private call(make: (id: number) => Op): Promise<Reply> {
    const id = ++this.sequence;
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { at: Date.now(), resolve, reject });
      this.push(make(id));
    }).then((reply) => {
      if (reply.error) throw revive(reply.error);
      return reply;
    });
  }

  /**
   * Ask for a slot; the answer comes with the request's `charge`, which follows at once (a
   * refusal is its 429). The lease is this worker's name for the slot.
   */
  enter(user: User): string {
    const lease = String(++this.sequence);
    this.leases.set(lease, user.id);
    this.entered = { userId: user.id, lease };
    this.push({ op: "enter", user: { id: user.id, groups: user.groups }, lease });
    return lease;
  }

  leave(user: { id: string }, lease: string | undefined): void {
    if (lease === undefined) return;
    this.leases.delete(lease);
    this.push({ op: "leave", user: { id: user.id, groups: [] }, lease }, false);
  }

  inFlightOf(userId: string): number {
    let held = 0;
    for (const user of this.leases.values()) if (user === userId) held++;
    return held;
  }

  async charge(user: User, model: string, estimate: number): Promise<Charge> {
    const entered = this.entered?.userId === user.id ? this.entered.lease : undefined;
    this.entered = undefined;
    const reply = await this.call((id) => ({
      op: "charge",
      id,
      user: { id: user.id, groups: user.groups },
      model,
      estimate,
      lease: entered,
    }));
    return { holds: [], headers: reply.headers ?? {}, ...(reply.ref === undefined ? {} : { ref: reply.ref }) };
  }

  async settle(charge: Charge, actualTokens: number): Promise<void> {
    if (charge.ref !== undefined) this.push({ op: "settle", ref: charge.ref, tokens: actualTokens }, false);
  }

  close(): void {
    this.flush();
    process.off("message", this.onMessage);
    clearInterval(this.sweep);
  }
}

/**
 * The primary's side: one `RateLimits` in its memory answers every worker's batches, in order;
 * the slots and token holds of a worker that dies are given back.
 */
export function serveClusterLimits(settings: GatewaySettings["limits"]): void {
  const limits = new RateLimits(settings);
  let nextRef = 0;
  /** Token holds waiting for their settlement, by reference, with the worker that holds them. */
  const charges = new Map<number, { charge: Charge; worker: number }>();
  /** Slots, by worker and the worker's lease: the lease here (none: no cap), or the refusal. */
  const slots = new Map<
    string,
    { worker: number; userId: string; lease?: string | undefined; refused?: Reply["error"] }
  >();

  const failed = (error: unknown): Reply["error"] => {
    if (!(error instanceof SwitchyardError)) throw error;
    return { code: error.code, message: error.message, retryAfter: error.retryAfter, headers: error.headers };
  };

  const handle = async (worker: Worker, op: Op): Promise<Reply | undefined> => {
    switch (op.op) {
      case "enter": {
        const key = `${worker.id}:${op.lease}`;
        try {
          const lease = await limits.enter(op.user);
          slots.set(key, { worker: worker.id, userId: op.user.id, lease });
        } catch (error) {
          slots.set(key, { worker: worker.id, userId: op.user.id, refused: failed(error) });
        }
        return undefined;
      }
      case "leave": {
        const key = `${worker.id}:${op.lease}`;
        const slot = slots.get(key);
        slots.delete(key);
        if (slot?.lease !== undefined) limits.leave(op.user, slot.lease);
        return undefined;
      }
      case "charge": {
        const refused = op.lease === undefined ? undefined : slots.get(`${worker.id}:${op.lease}`)?.refused;
        if (refused) return { id: op.id, error: refused };
        try {
          const charge = await limits.charge(op.user, op.model, op.estimate);
          if (charge.holds.length === 0) return { id: op.id, headers: charge.headers };
          const ref = ++nextRef;
          charges.set(ref, { charge, worker: worker.id });
          return { id: op.id, headers: charge.headers, ref };
        } catch (error) {
          return { id: op.id, error: failed(error) };
        }
      }
      case "settle": {
        const held = charges.get(op.ref);
        charges.delete(op.ref);
        if (held) await limits.settle(held.charge, op.tokens).catch(() => {});
        return undefined;
      }
    }
  };

  cluster.on("message", (worker: Worker, message: Batch) => {
    if (message?.channel !== CHANNEL || !message.ops) return;
    const ops = message.ops;
    void (async () => {
      // In order: a request's slot is decided before its charge.
      const replies: Reply[] = [];
      for (const op of ops) {
        const reply = await handle(worker, op);
        if (reply) replies.push(reply);
      }
      if (replies.length > 0 && worker.isConnected()) worker.send({ channel: CHANNEL, replies } satisfies Batch);
    })();
  });

  cluster.on("exit", (worker) => {
    for (const [key, slot] of slots) {
      if (slot.worker !== worker.id) continue;
      slots.delete(key);
      if (slot.lease !== undefined) limits.leave({ id: slot.userId }, slot.lease);
    }
    for (const [ref, held] of charges) if (held.worker === worker.id) charges.delete(ref);
  });
}
