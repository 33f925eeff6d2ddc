// Open-loop load at a steady rate: request i is due at start + i / rate, whether or not earlier
// ones have answered, and its latency counts from when it was due (so a stall shows up in the
// tail instead of silently lowering the rate, the "coordinated omission" trap). autocannon's -R
// fires each connection's quota for the second at once, which measures how fast a burst
// drains rather than what one hop adds; this is the even pacing the latency rows need.
//
// usage: node paced.mjs <json options>  ->  prints {"sent","ok","errors","p50","p90","p99","max"} (ms)
import { Pool } from "undici";

const options = JSON.parse(process.argv[2]);
const { url, rate, seconds, headers = {}, method = "POST", body, connections = 64 } = options;
if (!/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url)) throw new Error("benchmarks talk to 127.0.0.1 only");
const target = new URL(url);
const pool = new Pool(target.origin, { connections, pipelining: 1 });
const total = Math.round(rate * seconds);
const latencies = new Float64Array(total);
let done = 0;
let ok = 0;
let errors = 0;

function send(index, due) {
  pool
    .request({ path: target.pathname + target.search, method, headers, body })
    .then(async (res) => {
      await res.body.dump();
      if (res.statusCode < 300) ok++;
      else errors++;
    })
    .catch(() => errors++)
    .finally(() => {
      latencies[index] = performance.now() - due;
      if (++done === total) finish();
    });
}

const start = performance.now() + 20;
let next = 0;
function tick() {
  const now = performance.now();
  while (next < total && start + (next * 1000) / rate <= now) {
    send(next, start + (next * 1000) / rate);
    next++;
  }
  if (next < total) setTimeout(tick, Math.max(0, start + (next * 1000) / rate - performance.now()));
}
setTimeout(tick, 20);

function finish() {
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const round = (v) => Math.round(v * 100) / 100;
  process.stdout.write(
    JSON.stringify({
      sent: total,
      ok,
      errors,
      p50: round(at(0.5)),
      p90: round(at(0.9)),
      p99: round(at(0.99)),
      max: round(sorted[sorted.length - 1]),
    }),
  );
  void pool.close();
}
