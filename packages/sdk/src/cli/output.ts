import pc from "picocolors";

export type Colors = ReturnType<typeof pc.createColors>;

/** Strip ANSI colour codes, to measure what a cell shows. */
function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escapes is the point
  return text.replace(/\u001b\[[0-9;]*m/g, "").length;
}

/**
 * Where a command writes. Humans on a terminal get aligned tables and colour; anything else
 * (a pipe, a file, `--json`) gets plain tab-separated lines without a header, or JSON.
 */
export class Output {
  readonly tty: boolean;
  readonly color: Colors;

  constructor(
    readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    readonly json: boolean,
    env: NodeJS.ProcessEnv,
  ) {
    this.tty = Boolean(stream.isTTY) && !json;
    const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0";
    this.color = pc.createColors(!json && (forced || (this.tty && !env.NO_COLOR && env.TERM !== "dumb")));
  }

  write(text: string): void {
    this.stream.write(text);
  }

  line(text = ""): void {
    this.stream.write(`${text}\n`);
  }

  /** Machine output: one JSON document. */
  data(value: unknown): void {
    this.stream.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /**
   * Rows under a header, columns aligned, on a terminal; tab-separated rows without the header
   * elsewhere. `style` colours a cell on a terminal (its width is measured without colour).
   */
  table(headers: string[], rows: string[][], style?: (column: number, cell: string, row: number) => string): void {
    if (!this.tty) {
      for (const row of rows) this.line(row.map((cell) => cell.replace(/[\t\n]/g, " ")).join("\t"));
      return;
    }
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
    const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - visibleLength(text)));
    const last = headers.length - 1;
    this.line(
      headers.map((h, i) => (i === last ? this.color.bold(h) : this.color.bold(pad(h, widths[i] ?? 0)))).join("  "),
    );
    rows.forEach((row, r) => {
      const cells = row.map((cell, i) => {
        const shown = style ? style(i, cell, r) : cell;
        return i === last ? shown : shown + " ".repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(cell)));
      });
      this.line(cells.join("  ").trimEnd());
    });
  }
}

/** `47 h 58 min`, `12 min`, `40 s`: a span for people. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  if (h < 48 || rest === 0) return rest ? `${h} h ${rest} min` : `${h} h`;
  return `${Math.round(h / 24)} days`;
}

/**
 * A model's ETA beside its status: `~12 s`, `< 1 s`, or `unknown` when the server cannot say
 * (`eta_seconds: null` while queued: waiting in Slurm's queue, or for busy deployments).
 */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "unknown";
  if (seconds < 1) return "< 1 s";
  return `~${formatDuration(seconds * 1000)}`;
}

/** `8k`, `128k`, `131072` -> `128k`: context windows as people say them. */
export function formatTokens(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024}k` : String(n);
}

/** An ISO time as local `YYYY-MM-DD HH:MM`. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "-";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}
