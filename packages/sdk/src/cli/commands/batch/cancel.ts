// `sy batch cancel`: ask the server to stop a batch, then wait for what was in flight to stop.
import { isBatchEnded } from "../../../batches";
import type { CliContext } from "../../context";
import { summary } from "./describe";

/** How long `cancel` waits for the in-flight requests to stop. */
const CANCEL_WAIT_MS = 60_000;

export async function cancel(ctx: CliContext, _options: unknown, id: string): Promise<void> {
  const client = ctx.client();
  let batch = await client.batches.cancel(id);
  if (!isBatchEnded(batch.status)) {
    ctx.note(`Cancelling ${id}: stopping the requests in flight...`);
    batch = await client.batches.wait(id, { intervalMs: 250, timeoutMs: CANCEL_WAIT_MS, signal: ctx.signal });
  }
  if (ctx.json) {
    ctx.out.data(batch);
    return;
  }
  const c = batch.request_counts;
  if (batch.status !== "cancelled") {
    // It ended some other way while the cancel was on its way (its last request had just finished).
    ctx.out.line(summary(batch));
    return;
  }
  ctx.out.line(
    `Cancelled ${id}: ${c.completed} answered and ${c.failed} failed of ${c.total} are kept (sy batch results ${id}).`,
  );
}
