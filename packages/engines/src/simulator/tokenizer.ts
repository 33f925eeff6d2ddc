/**
 * The simulator's tokenizer: simple, deterministic, lossless, and the same for prompts and
 * answers, so `usage` is a pure function of the request and matches what was sent.
 *
 * A token is one of:
 * - a run of up to 8 word characters with the whitespace before it (`" hello"`, `"Lorem"`);
 *   word characters are ASCII letters, digits, `_`, and every non-ASCII character that is
 *   not whitespace (so `"extraordinary"` is `"extraord"` + `"inary"`);
 * - one other character with the whitespace before it (`","`, `" ("`);
 * - whitespace at the very end of the text.
 * Joining the tokens of a text gives the text back.
 */

const MAX_WORD_PIECE = 8;

/** ASCII word characters: 0-9, A-Z, a-z, _. */
const ASCII_WORD = new Uint8Array(128);
for (let c = 48; c <= 57; c++) ASCII_WORD[c] = 1;
for (let c = 65; c <= 90; c++) ASCII_WORD[c] = 1;
for (let c = 97; c <= 122; c++) ASCII_WORD[c] = 1;
ASCII_WORD[95] = 1;

/** The characters JavaScript's `\s` matches. */
function isSpace(c: number): boolean {
  if (c < 128) return c === 32 || (c >= 9 && c <= 13);
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

function isWord(c: number): boolean {
  return c < 128 ? ASCII_WORD[c] === 1 : !isSpace(c);
}

/** Where the token starting at `start` ends. */
function tokenEnd(text: string, start: number): number {
  const n = text.length;
  let i = start;
  while (i < n && isSpace(text.charCodeAt(i))) i++;
  if (i >= n) return n;
  if (isWord(text.charCodeAt(i))) {
    const limit = Math.min(n, i + MAX_WORD_PIECE);
    while (i < limit && isWord(text.charCodeAt(i))) i++;
    return i;
  }
  return i + 1;
}

/** The tokens of a text, in order; `tokenize(t).join("") === t`. */
export function tokenize(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const end = tokenEnd(text, i);
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

/** The number of tokens in a text, without building them. */
export function countTokens(text: string): number {
  let count = 0;
  let i = 0;
  while (i < text.length) {
    i = tokenEnd(text, i);
    count++;
  }
  return count;
}

/** Fixed prompt costs, like a chat template's role markers and an image's patch tokens. */
export const PROMPT_COSTS = {
  /** Added per chat message (role markers of the template). */
  perMessage: 4,
  /** Added once per chat prompt (the assistant turn the template opens). */
  replyPrimer: 3,
  /** Counted for each image part. */
  perImage: 256,
} as const;
