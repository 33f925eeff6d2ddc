import v8 from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * One full garbage collection once start-up has settled (`settled()`: nothing left starting),
 * checked every second from 3 s after start, and done after 2 minutes whatever. Start-up
 * (migrations, the catalog sync, the first launches, the dashboard check) leaves about 30 MB of
 * garbage that V8 collects only under allocation pressure or after minutes of idling (its
 * memory reducer), so an idle server held it for that long.
 */
export function collectStartupGarbage(settled: () => boolean): void {
  const started = Date.now();
  const check = () => {
    if (!settled() && Date.now() - started < 120_000) {
      setTimeout(check, 1000).unref();
      return;
    }
    v8.setFlagsFromString("--expose-gc");
    (runInNewContext("gc") as () => void)();
  };
  setTimeout(check, 3000).unref();
}
