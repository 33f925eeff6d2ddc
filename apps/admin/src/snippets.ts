import type { ChatRequest } from "./chat";

/**
 * The Playground's conversation as code to run elsewhere: a curl command, or a script with the
 * official `openai` package (Python or TypeScript) pointed at this server's `/v1`. The key is
 * read from SWITCHYARD_API_KEY (what `sy` reads too), never the page's session token.
 */

export type SnippetLanguage = "curl" | "python" | "typescript";

export const SNIPPET_LANGUAGES: { value: SnippetLanguage; label: string }[] = [
  { value: "curl", label: "curl" },
  { value: "python", label: "Python" },
  { value: "typescript", label: "TypeScript" },
];

export const KEY_VARIABLE = "SWITCHYARD_API_KEY";

/** The request's fields in the order they are written, the unset parameters left out. */
function fields(request: ChatRequest): [string, unknown][] {
  const { model, messages, temperature, max_tokens, top_p, stop } = request;
  const list: [string, unknown][] = [
    ["model", model],
    ["messages", messages],
    ["temperature", temperature],
    ["max_tokens", max_tokens],
    ["top_p", top_p],
    ["stop", stop && stop.length > 0 ? stop : undefined],
  ];
  return list.filter(([, value]) => value !== undefined);
}

function indent(level: number, width: number): string {
  return " ".repeat(level * width);
}

/**
 * A value as a literal of a language whose strings, numbers, lists and maps JSON already
 * writes (Python's and TypeScript's): the same layout, with the language's words for
 * true/false/null and its own way of writing keys.
 */
function literal(
  value: unknown,
  level: number,
  style: { width: number; words: [string, string, string]; key(name: string): string },
): string {
  if (value === null || value === undefined) return style.words[2];
  if (value === true) return style.words[0];
  if (value === false) return style.words[1];
  if (typeof value === "string" || typeof value === "number") return JSON.stringify(value);
  const inner = indent(level + 1, style.width);
  const outer = indent(level, style.width);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => `${inner}${literal(v, level + 1, style)},`).join("\n")}\n${outer}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, v]) => `${inner}${style.key(k)}: ${literal(v, level + 1, style)},`).join("\n")}\n${outer}}`;
}

const PYTHON = {
  width: 4,
  words: ["True", "False", "None"] as [string, string, string],
  key: (name: string) => JSON.stringify(name),
};
const TYPESCRIPT = {
  width: 2,
  words: ["true", "false", "null"] as [string, string, string],
  key: (name: string) => (/^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name)),
};

function curl(request: ChatRequest, apiBase: string): string {
  const body = JSON.stringify(Object.fromEntries(fields(request)), null, 2);
  // A quoted here-document passes the JSON exactly as written (no shell quoting of the messages).
  // No line of it can be the end marker: JSON writes line breaks in strings as \n, and each of
  // its lines starts with a space or a bracket.
  return [
    `curl ${apiBase}/chat/completions \\`,
    `  -H "Authorization: Bearer $${KEY_VARIABLE}" \\`,
    `  -H "Content-Type: application/json" \\`,
    "  -d @- <<'JSON'",
    body,
    "JSON",
  ].join("\n");
}

function python(request: ChatRequest, apiBase: string): string {
  const args = fields(request).map(([name, value]) => `    ${name}=${literal(value, 1, PYTHON)},`);
  return [
    "import os",
    "",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${JSON.stringify(apiBase)}, api_key=os.environ[${JSON.stringify(KEY_VARIABLE)}])`,
    "",
    "response = client.chat.completions.create(",
    ...args,
    ")",
    "print(response.choices[0].message.content)",
  ].join("\n");
}

function typescript(request: ChatRequest, apiBase: string): string {
  const body = literal(Object.fromEntries(fields(request)), 0, TYPESCRIPT);
  return [
    'import OpenAI from "openai";',
    "",
    `const client = new OpenAI({ baseURL: ${JSON.stringify(apiBase)}, apiKey: process.env.${KEY_VARIABLE} });`,
    "",
    `const response = await client.chat.completions.create(${body});`,
    "console.log(response.choices[0]?.message.content);",
  ].join("\n");
}

/** The request as `language`, for the API at `apiBase` (this server's origin + `/v1`). */
export function snippet(language: SnippetLanguage, request: ChatRequest, apiBase: string): string {
  if (language === "curl") return curl(request, apiBase);
  if (language === "python") return python(request, apiBase);
  return typescript(request, apiBase);
}

/**
 * What the page shows of a snippet: data: URLs (pasted images, easily megabytes) cut to their
 * start and size. The copy is always the whole snippet.
 */
export function abbreviateDataUrls(text: string): string {
  return text.replace(/data:([\w.+-]+\/[\w.+-]+);base64,([A-Za-z0-9+/=]{48,})/g, (_all, type: string, data: string) => {
    const kb = Math.round((data.length * 3) / 4 / 1024);
    return `data:${type};base64,${data.slice(0, 24)}… (${kb} kB)`;
  });
}
