import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** One line of a panel: a name and its points (x in the panel's unit, y in the panel's). */
export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number }[];
}

export interface Panel {
  title: string;
  unit: string;
  series: Series[];
}

/** Shaded stretches of the x axis, named (the warm-up, the thirds compared). */
export interface Band {
  from: number;
  to: number;
  label: string;
  color: string;
}

const WIDTH = 1200;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 80, right: 30, top: 70, bottom: 50 };
const GAP = 40;

function xmlText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** 0, a round step, ... up to at least `max`: ticks a reader can use (1, 2 or 5 times a power of ten). */
function ticks(max: number, count = 5): number[] {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

/**
 * Panels stacked over one x axis, each with its y axis from 0 (so a flat line looks flat, and a
 * slope is not magnified by a cropped axis), a legend, and the bands shaded behind the lines.
 */
export function lineChartSvg(options: {
  title: string;
  xLabel: string;
  xMax: number;
  panels: Panel[];
  bands: Band[];
}): {
  svg: string;
  width: number;
  height: number;
} {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const height = MARGIN.top + options.panels.length * (PANEL_HEIGHT + GAP) + MARGIN.bottom - GAP;
  const xTicks = ticks(options.xMax, 10);
  const xMax = xTicks.at(-1) ?? options.xMax;
  const sx = (x: number) => MARGIN.left + (x / xMax) * plotWidth;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${xmlText(options.title)}</text>`,
  ];
  const legend = options.panels[0]?.series ?? [];
  legend.forEach((s, i) => {
    const x = MARGIN.left + i * 190;
    parts.push(`<line x1="${x}" y1="44" x2="${x + 24}" y2="44" stroke="${s.color}" stroke-width="3"/>`);
    parts.push(`<text x="${x + 30}" y="48">${xmlText(s.name)}</text>`);
  });
  options.panels.forEach((panel, p) => {
    const top = MARGIN.top + p * (PANEL_HEIGHT + GAP);
    const bottom = top + PANEL_HEIGHT;
    const yMaxData = Math.max(0, ...panel.series.flatMap((s) => s.points.map((pt) => pt.y)));
    const yTicks = ticks(yMaxData > 0 ? yMaxData * 1.15 : 1);
    const yMax = yTicks.at(-1) ?? 1;
    const sy = (y: number) => bottom - (y / yMax) * PANEL_HEIGHT;
    for (const band of options.bands) {
      parts.push(
        `<rect x="${sx(band.from)}" y="${top}" width="${sx(band.to) - sx(band.from)}" height="${PANEL_HEIGHT}" fill="${band.color}"/>`,
      );
      if (p === 0)
        parts.push(
          `<text x="${(sx(band.from) + sx(band.to)) / 2}" y="${top + 14}" text-anchor="middle" fill="#555" font-size="11">${xmlText(band.label)}</text>`,
        );
    }
    for (const y of yTicks) {
      parts.push(`<line x1="${MARGIN.left}" y1="${sy(y)}" x2="${WIDTH - MARGIN.right}" y2="${sy(y)}" stroke="#ddd"/>`);
      parts.push(`<text x="${MARGIN.left - 8}" y="${sy(y) + 4}" text-anchor="end">${y}</text>`);
    }
    for (const x of xTicks) {
      parts.push(`<line x1="${sx(x)}" y1="${bottom}" x2="${sx(x)}" y2="${bottom + 5}" stroke="#333"/>`);
      parts.push(`<text x="${sx(x)}" y="${bottom + 19}" text-anchor="middle">${x}</text>`);
    }
    parts.push(
      `<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${PANEL_HEIGHT}" fill="none" stroke="#333"/>`,
    );
    parts.push(
      `<text x="${MARGIN.left + 8}" y="${top - 8}" font-weight="bold">${xmlText(panel.title)} (${xmlText(panel.unit)})</text>`,
    );
    for (const s of panel.series) {
      if (s.points.length === 0) continue;
      const d = s.points
        .map((pt, i) => `${i === 0 ? "M" : "L"}${sx(pt.x).toFixed(1)},${sy(pt.y).toFixed(1)}`)
        .join(" ");
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      for (const pt of s.points) {
        parts.push(`<circle cx="${sx(pt.x).toFixed(1)}" cy="${sy(pt.y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
      }
    }
  });
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${height - 12}" text-anchor="middle">${xmlText(options.xLabel)}</text>`,
  );
  parts.push("</svg>");
  return { svg: parts.join("\n"), width: WIDTH, height };
}

/** The SVG as a PNG, drawn by headless chromium. */
export async function svgToPng(chart: { svg: string; width: number; height: number }, file: string): Promise<void> {
  const { chromium } = await import("playwright-core");
  const { CHROMIUM, CHROMIUM_ARGS } = await import("@switchyard/db/testing");
  const profile = mkdtempSync(path.join(tmpdir(), "sy-bench-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS],
    headless: true,
    viewport: { width: chart.width, height: chart.height },
  });
  try {
    const page = await context.newPage();
    await page.setContent(`<!doctype html><html><body style="margin:0">${chart.svg}</body></html>`);
    await page.screenshot({ path: file, clip: { x: 0, y: 0, width: chart.width, height: chart.height } });
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
