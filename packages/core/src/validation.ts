import type { z } from "zod";
import { apiError, type SwitchyardError } from "./errors";

/** `["messages", 0, "content"]` -> `messages[0].content`, the form OpenAI uses in `param`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Marks the guard issue of an open union's fallback branch, so error reports skip that branch. */
export const FALLBACK_GUARD = "switchyard:fallback-guard";

type Issue = z.core.$ZodIssue;
type UnionIssue = Extract<Issue, { code: "invalid_union" }>;

function valueAt(root: unknown, path: readonly PropertyKey[]): { found: boolean; value: unknown } {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== "object" || !(key in (current as object))) {
      return { found: false, value: undefined };
    }
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return { found: true, value: current };
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return "a string";
    case "number":
      return Number.isInteger(value) ? "an integer" : "a number";
    case "boolean":
      return "a boolean";
    case "object":
      return "an object";
    default:
      return typeof value;
  }
}

function isGuard(issue: Issue): boolean {
  return issue.code === "custom" && issue.params?.[FALLBACK_GUARD] === true;
}

/** Pick the most specific failing branch of a union: the one whose issues reach deepest. */
function unionBranch(issue: UnionIssue): Issue[] | undefined {
  let best: Issue[] | undefined;
  let bestDepth = -1;
  for (const branch of issue.errors) {
    if (branch.length === 0 || branch.every(isGuard)) continue;
    const depth = Math.max(...branch.map((i) => i.path.length));
    if (depth > bestDepth) {
      best = branch;
      bestDepth = depth;
    }
  }
  return best;
}

interface Located {
  issue: Issue;
  path: PropertyKey[];
}

/** True when every branch of a union failed on the value's own type (not inside it). */
function failedOnTypeOnly(issue: UnionIssue): boolean {
  return (
    issue.errors.length > 0 &&
    issue.errors.every((branch) => branch.every((i) => i.path.length === 0 && i.code === "invalid_type"))
  );
}

function mostSpecific(issues: readonly Issue[], prefix: PropertyKey[]): Located | undefined {
  const first = issues[0];
  if (!first) return undefined;
  const path = [...prefix, ...first.path];
  if (first.code === "invalid_union" && !failedOnTypeOnly(first)) {
    const branch = unionBranch(first);
    if (branch) return mostSpecific(branch, path) ?? { issue: first, path };
  }
  return { issue: first, path };
}

/** For a discriminated union that matched no tag: `expected one of "a", "b"`. */
export function discriminatorDetail(issue: UnionIssue): string | undefined {
  const options = "options" in issue ? issue.options : undefined;
  if (!options || options.length === 0) return undefined;
  return `expected one of ${options.map((o) => JSON.stringify(o)).join(", ")}`;
}

const ARTICLE: Record<string, string> = {
  array: "an array",
  object: "an object",
  integer: "an integer",
  int: "an integer",
};
function withArticle(expected: string): string {
  return ARTICLE[expected] ?? `a ${expected}`;
}

/** `expected a string or an array, got an integer` for a union the value's type matches no branch of. */
function unionDetail(issue: UnionIssue, value: unknown): string {
  const tags = discriminatorDetail(issue);
  if (tags) return tags;
  const expected = new Set<string>();
  for (const branch of issue.errors) {
    for (const i of branch) if (i.code === "invalid_type") expected.add(withArticle(i.expected));
  }
  if (expected.size === 0) return "does not match any accepted form";
  return `expected ${[...expected].join(" or ")}, got ${describe(value)}`;
}

function detailFor(issue: Issue, value: { found: boolean; value: unknown }): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${withArticle(issue.expected)}, got ${describe(value.value)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union":
      return unionDetail(issue, value.value);
    default:
      return issue.message.replace(/^Invalid input:?\s*/i, "").replace(/^./, (c) => c.toLowerCase());
  }
}

/** Turn a zod failure on a client's body into the catalogue's 400, naming the field. */
export function errorFromZod(error: z.ZodError, input: unknown): SwitchyardError {
  const located = mostSpecific(error.issues, []);
  if (!located) return apiError("invalid_body", { expected: "valid" });
  const { issue } = located;
  let path = located.path;
  if (issue.code === "unrecognized_keys") {
    path = [...path, issue.keys[0] ?? ""];
    return apiError("invalid_field", { param: formatPath(path), detail: "unknown field" });
  }
  if (path.length === 0 && issue.code === "invalid_type") {
    return apiError("invalid_body", { expected: `a JSON ${issue.expected}` });
  }
  const value = valueAt(input, path);
  const param = formatPath(path);
  if (!value.found && (issue.code === "invalid_type" || issue.code === "invalid_union")) {
    return apiError("missing_required_field", { param });
  }
  return apiError("invalid_field", { param, detail: detailFor(issue, value) });
}

/** Validate a client's value or throw the catalogue error that names the field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw errorFromZod(result.error, input);
}
