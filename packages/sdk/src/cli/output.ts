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
  private readonly envColumns: number | undefined;

  constructor(
    readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    readonly json: boolean,
    env: NodeJS.ProcessEnv,
  ) {
    this.tty = Boolean(stream.isTTY) && !json;
    const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0";
    this.color = pc.createColors(!json && (forced || (this.tty && !env.NO_COLOR && env.TERM !== "dumb")));
    const columns = Number(env.COLUMNS);
    this.envColumns = Number.isInteger(columns) && columns > 0 ? columns : undefined;
  }

  /**
   * How wide the terminal is: `COLUMNS` when set (the user's say, as for `ls`), else the
   * terminal's own width; undefined when not on a terminal or it does not say.
   */
  get columns(): number | undefined {
    if (!this.tty) return undefined;
    const own = this.stream.columns;
    return this.envColumns ?? (own && own > 0 ? own : undefined);
  }

  /**
   * Whether `table` would show these rows within the terminal's width once the `fit` columns
   * give way (always, off a terminal or when its width is unknown).
   */
  fits(headers: string[], rows: string[][], fit: TableFit): boolean {
    const columns = this.columns;
    if (!this.tty || !columns) return true;
    return fitWidths(measure(headers, rows), headers, columns, fit) <= 0;
  }

  write(text: string): void {
    this.stream.write(text);
  }

  /**
   * Prose for people: on a terminal of known width each line is broken between words to fit it
   * (an item line, `  term    text`, continues under its text); elsewhere written as it is.
   */
  para(text: string): void {
    const columns = this.columns;
    if (!columns) {
      this.line(text);
      return;
    }
    this.line(wrapText(text, columns));
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
  table(
    headers: string[],
    rows: string[][],
    style?: (column: number, cell: string, row: number) => string,
    fit?: TableFit,
  ): void {
    if (!this.tty) {
      for (const row of rows) this.line(row.map((cell) => cell.replace(/[\t\n]/g, " ")).join("\t"));
      return;
    }
    const widths = measure(headers, rows);
    const columns = this.columns;
    if (fit && columns) fitWidths(widths, headers, columns, fit);
    const pad = (text: string, width: number) => text + " ".repeat(Math.max(0, width - visibleLength(text)));
    const last = headers.length - 1;
    this.line(
      headers
        .map((h, i) => {
          const head = truncate(h, widths[i] ?? 0);
          return this.color.bold(i === last ? head : pad(head, widths[i] ?? 0));
        })
        .join("  ")
        .trimEnd(),
    );
    rows.forEach((row, r) => {
      const cells = row.map((cell, i) => {
        const text = truncate(cell, widths[i] ?? 0);
        const shown = style ? style(i, text, r) : text;
        return i === last ? shown : shown + " ".repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(text)));
      });
      this.line(cells.join("  ").trimEnd());
    });
  }
}

/** How a table fits a terminal narrower than its rows (see `Output.table`). */
export interface TableFit {
  /**
   * The columns that may be cut (with an ellipsis), in the order they give way: a group (an
   * array) shares its cuts, the widest of it first; the next entry is cut only when the one
   * before can give no more. Columns not named keep their width.
   */
  shrink: (number | number[])[];
  /** The narrowest a cut column becomes (default 8, never narrower than its header). */
  min?: number;
}

/** Each column's width: its widest cell or its header. */
function measure(headers: string[], rows: string[][]): number[] {
  return headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
}

/**
 * Narrow the columns `fit.shrink` names, one character at a time, until the row fits `columns`
 * or none can give more; the characters still too many (0 or less: it fits).
 */
function fitWidths(widths: number[], headers: string[], columns: number, fit: TableFit): number {
  let excess = widths.reduce((sum, w) => sum + w, 0) + 2 * Math.max(0, widths.length - 1) - columns;
  const floor = (i: number) => Math.max(fit.min ?? 8, headers[i]?.length ?? 0);
  for (const entry of fit.shrink) {
    const group = Array.isArray(entry) ? entry : [entry];
    while (excess > 0) {
      let widest: number | undefined;
      for (const i of group) {
        const width = widths[i] ?? 0;
        if (width > floor(i) && (widest === undefined || width > (widths[widest] ?? 0))) widest = i;
      }
      if (widest === undefined) break;
      widths[widest] = (widths[widest] ?? 0) - 1;
      excess--;
    }
  }
  return excess;
}

/**
 * `text` with each of its lines broken between words into lines of at most `width` visible
 * characters. A line that starts with an item (`  --flag    what it does`: a term, then two or
 * more spaces) continues under the item's text, any other under its own indentation. A word
 * longer than a line stays whole on a line of its own.
 */
export function wrapText(text: string, width: number): string {
  return text
    .split("\n")
    .flatMap((line) => wrapLine(line, width))
    .join("\n");
}

function wrapLine(line: string, width: number): string[] {
  if (visibleLength(line) <= width) return [line];
  const item = /^(\s*\S+(?: \S+)*? {2,})\S/.exec(line)?.[1];
  const lead = /^\s*/.exec(line)?.[0] ?? "";
  const lines: string[] = [];
  let prefix = item ?? lead;
  let hang = prefix.length;
  if (item && width - item.length < 30) {
    // An item whose text would be left a column too narrow: the term on its own line, the text under it.
    lines.push(item.trimEnd());
    hang = lead.length + 4;
    prefix = " ".repeat(hang);
  }
  const words = line
    .slice((item ?? lead).length)
    .split(/ +/)
    .filter(Boolean);
  let current = prefix;
  let empty = true;
  for (const word of words) {
    if (!empty && visibleLength(current) + 1 + visibleLength(word) > width) {
      lines.push(current);
      current = " ".repeat(hang) + word;
    } else current += empty ? word : ` ${word}`;
    empty = false;
  }
  lines.push(current);
  return lines;
}

/** A cell cut to `width` visible characters, its last one an ellipsis when cut (plain text only). */
export function truncate(text: string, width: number): string {
  if (visibleLength(text) <= width) return text;
  return width <= 1 ? "…".slice(0, width) : `${text.slice(0, width - 1)}…`;
}

/** `1 request`, `2 requests`, `0 requests` (`many` for a word whose plural is not `word` + s). */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
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
