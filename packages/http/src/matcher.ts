import { pathToRegexp } from "path-to-regexp";
import type { HttpMethod, RouteSpec } from "./routes";

export interface RouteMatch<T> {
  spec: RouteSpec;
  value: T;
  /** Path parameters, percent-decoded (a malformed escape is kept as sent). */
  params: Record<string, string>;
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

const NO_PARAMS: Record<string, string> = Object.freeze({}) as Record<string, string>;

interface Pattern<T> {
  method: HttpMethod;
  /** The literal text before the first parameter: most paths are told apart by it alone. */
  prefix: string;
  /** The literal text after the last parameter (`/v1/chat/completions`), checked before the regexp. */
  suffix: string;
  regexp: RegExp;
  names: string[];
  spec: RouteSpec;
  value: T;
}

/**
 * Finds which of some routes of the table a request is for, without Express: a map lookup for
 * paths without parameters, then each pattern with parameters whose literal prefix fits. Case
 * sensitive and without a trailing slash, so a path it does not recognise exactly goes on to
 * Express and its router, which serves the same routes.
 */
export class RouteMatcher<T> {
  /** By method, then path: the match itself, made once (a lookup allocates nothing). */
  private readonly exact = new Map<string, Map<string, RouteMatch<T>>>();
  private readonly patterns: Pattern<T>[] = [];

  constructor(routes: Iterable<{ spec: RouteSpec; value: T }>) {
    for (const { spec, value } of routes) {
      const first = spec.path.search(/[:*{]/);
      if (first < 0) {
        const paths = this.exact.get(spec.method) ?? new Map<string, RouteMatch<T>>();
        this.exact.set(spec.method, paths);
        paths.set(spec.path, { spec, value, params: NO_PARAMS });
        continue;
      }
      const { regexp, keys } = pathToRegexp(spec.path, { sensitive: true, trailing: false });
      const lastParam = Math.max(...[":", "*", "{"].map((c) => spec.path.lastIndexOf(c)));
      const afterLast = spec.path.indexOf("/", lastParam);
      this.patterns.push({
        method: spec.method,
        prefix: spec.path.slice(0, first),
        suffix: afterLast < 0 ? "" : spec.path.slice(afterLast),
        regexp,
        names: keys.map((k) => k.name),
        spec,
        value,
      });
    }
  }

  match(method: string, pathname: string): RouteMatch<T> | undefined {
    const exact = this.exact.get(method)?.get(pathname);
    if (exact) return exact;
    for (const pattern of this.patterns) {
      if (pattern.method !== method || !pathname.startsWith(pattern.prefix) || !pathname.endsWith(pattern.suffix)) {
        continue;
      }
      const found = pattern.regexp.exec(pathname);
      if (!found) continue;
      const params: Record<string, string> = {};
      for (let i = 0; i < pattern.names.length; i++) {
        params[pattern.names[i] as string] = safeDecode(found[i + 1] as string);
      }
      return { spec: pattern.spec, value: pattern.value, params };
    }
    return undefined;
  }
}
