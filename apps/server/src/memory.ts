import v8 from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * One full garbage collection once start-up has settled. Start-up (migrations, the catalog
 * sync, the first launches, the dashboard check) leaves about 30 MB of garbage that V8 collects
 * only under allocation pressure or after minutes of idling (its memory reducer), so an idle
 * server held it for that long.
 */
export function collectStartupGarbage(afterMs = 10_000): void {
  const timer = setTimeout(() => {
    v8.setFlagsFromString("--expose-gc");
    (runInNewContext("gc") as () => void)();
  }, afterMs);
  timer.unref();
}
