import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { discriminatorDetail, formatPath } from "../validation";
import { ConfigSchema, type SwitchyardConfig } from "./schema";

export interface ConfigProblem {
  /** Where in the file, e.g. `models[0].id`; empty for the whole file. */
  path: string;
  message: string;
  /** 1-based line in the YAML source, when known. */
  line?: number;
}

export type ConfigResult = { ok: true; config: SwitchyardConfig } | { ok: false; problems: ConfigProblem[] };

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}`;
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union":
      return discriminatorDetail(issue) ?? "does not match any accepted form";
    default:
      return issue.message.replace(/^Invalid input:?\s*/i, "");
  }
}

function problemFromIssue(issue: z.core.$ZodIssue): ConfigProblem {
  const isMissing = issue.code === "invalid_type" && /received undefined/.test(issue.message);
  return {
    path: formatPath(issue.path),
    message: isMissing ? `required (${describeIssue(issue)})` : describeIssue(issue),
  };
}

/** One issue per unknown key, so each typo is named with its full path. */
function splitIssues(issues: readonly z.core.$ZodIssue[]): { path: PropertyKey[]; problem: ConfigProblem }[] {
  return issues.flatMap((issue) => {
    if (issue.code !== "unrecognized_keys") return [{ path: issue.path, problem: problemFromIssue(issue) }];
    return issue.keys.map((key) => {
      const path = [...issue.path, key];
      return { path, problem: { path: formatPath(path), message: "unknown key" } };
    });
  });
}

/** Validate an already-parsed config object. */
export function validateConfig(data: unknown): ConfigResult {
  const result = ConfigSchema.safeParse(data);
  if (result.success) return { ok: true, config: result.data };
  return { ok: false, problems: splitIssues(result.error.issues).map((entry) => entry.problem) };
}

/** Parse and validate YAML (or JSON) config text; problems carry line numbers where they can. */
export function parseConfigText(text: string): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((err) => ({
        path: "",
        message: `YAML: ${err.message.split("\n")[0]}`,
        line: lineCounter.linePos(err.pos[0]).line,
      })),
    };
  }
  const result = ConfigSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return { ok: true, config: result.data };
  const problems = splitIssues(result.error.issues).map(({ path, problem }) => {
    // The innermost YAML node that exists on the issue's path gives the line.
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) {
        problem.line = lineCounter.linePos(node.range[0]).line;
        break;
      }
    }
    return problem;
  });
  return { ok: false, problems };
}
