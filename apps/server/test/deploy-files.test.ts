import { readFileSync } from "node:fs";
import path from "node:path";
import { TEST_REDIS_URL } from "@switchyard/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type RunningServer, startServer } from "../src";
import { ADMIN_PASSWORD, memoryLogger, scrapeMetrics, tempDataDir } from "./helpers";

const DEPLOY = path.resolve(import.meta.dirname, "../../../deploy");

/** PromQL words that are not metric names: functions, aggregations, keywords, Grafana's variables. */
const NOT_METRICS = new Set([
  ...["sum", "min", "max", "avg", "count", "rate", "increase", "irate", "histogram_quantile", "abs", "clamp_min"],
  ...["by", "without", "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool", "offset"],
]);

/**
 * The metric families a PromQL expression reads: identifiers outside label matchers, ranges,
 * strings and Grafana variables, with a histogram's `_bucket`/`_sum`/`_count` series named by
 * their family.
 */
export function metricFamilies(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, "{}") // label matchers
    .replace(/\[[^\]]*\]/g, "[]") // ranges ([5m], [$__rate_interval])
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "$1()") // label lists
    .replace(/\$\w+/g, ""); // Grafana variables
  const names = new Set<string>();
  for (const [, name] of bare.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(?![\w:]|\s*\()/g)) {
    if (NOT_METRICS.has(name as string) || /^\d/.test(name as string)) continue;
    names.add((name as string).replace(/_(bucket|sum|count)$/, ""));
  }
  return [...names].sort();
}

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(path.join(DEPLOY, "grafana/switchyard.json"), "utf8")) as {
  title: string;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
};
const rules = parse(readFileSync(path.join(DEPLOY, "prometheus/alerts.yml"), "utf8")) as {
  groups: {
    name: string;
    rules: {
      alert: string;
      expr: string;
      for: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }[];
  }[];
};
const dashboardExprs = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).flatMap((p) => p.targets ?? []);
const alerts = rules.groups.flatMap((g) => g.rules);

describe("the shipped Grafana dashboard and Prometheus alerts", () => {
  let server: RunningServer;
  let families: Set<string>;
  beforeAll(async () => {
    server = await startServer({
      port: 0,
      host: "127.0.0.1",
      dataDir: tempDataDir(),
      inMemoryDatabase: true,
      schedulerAutoTick: false,
      redisUrl: TEST_REDIS_URL,
      logger: memoryLogger().logger,
      env: { SWITCHYARD_ADMIN_PASSWORD: ADMIN_PASSWORD },
    });
    const text = await scrapeMetrics(server.url);
    // A family exists when it is declared, even before its first sample.
    families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
  });
  afterAll(() => server?.close());

  it("reads metric names the way PromQL does", () => {
    expect(
      metricFamilies(
        'histogram_quantile(0.99, sum by (le, model) (rate(a_seconds_bucket{status=~"5..", x="rate"}[$__rate_interval]))) / sum(b_total) > 0.05 and c == 0',
      ),
    ).toEqual(["a_seconds", "b_total", "c"]);
  });

  it("has a dashboard with a Prometheus datasource variable and a query on every panel", () => {
    expect(dashboard.uid).toBe("switchyard");
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: "datasource", type: "datasource", query: "prometheus" }),
    );
    const graphs = dashboard.panels.filter((p) => p.type !== "row");
    expect(graphs.length).toBeGreaterThanOrEqual(10);
    for (const panel of graphs) expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(" | ");
    for (const topic of ["requests", "latency", "first token", "tokens", "state", "queue", "batch", "gpus"])
      expect(titles).toContain(topic);
  });

  it("has the five alerts, each with a duration, a severity and a summary and description", () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      "SwitchyardBatchStalled",
      "SwitchyardDatabaseDown",
      "SwitchyardHighErrorRate",
      "SwitchyardModelFailed",
      "SwitchyardQueueStuck",
    ]);
    for (const alert of alerts) {
      expect(alert.for, alert.alert).toMatch(/^\d+[smh]$/);
      expect(["warning", "critical"], alert.alert).toContain(alert.labels.severity);
      expect(alert.annotations.summary, alert.alert).toBeTruthy();
      expect(alert.annotations.description, alert.alert).toBeTruthy();
    }
  });

  it("uses only metrics a running server exports, the standard Node.js ones unprefixed", () => {
    expect(families).toContain("process_resident_memory_bytes");
    expect(families).toContain("nodejs_eventloop_lag_p99_seconds");
    expect(
      [...families].filter((f) => f.startsWith("switchyard_process_") || f.startsWith("switchyard_nodejs_")),
    ).toEqual([]);
    const used = new Map<string, string>();
    for (const { expr } of dashboardExprs) for (const name of metricFamilies(expr)) used.set(name, "dashboard");
    for (const { alert, expr } of alerts) for (const name of metricFamilies(expr)) used.set(name, alert);
    expect(used.size).toBeGreaterThanOrEqual(15);
    const missing = [...used].filter(([name]) => !families.has(name)).map(([name, where]) => `${name} (${where})`);
    expect(missing).toEqual([]);
  });
});
