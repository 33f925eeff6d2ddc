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

interface Pattern<T> {
  method: HttpMethod;
  /** The literal text before the first parameter: most paths are told apart by it alone. */
  prefix: string;
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
  private readonly exact = new Map<string, { spec: RouteSpec; value: T }>();
  private readonly patterns: Pattern<T>[] = [];

  constructor(routes: Iterable<{ spec: RouteSpec; value: T }>) {
    for (const { spec, value } of routes) {
      const first = spec.path.search(/[:*{]/);
      if (first < 0) {
        this.exact.set(`${spec.method} ${spec.path}`, { spec, value });
        continue;
      }
      const { regexp, keys } = pathToRegexp(spec.path, { sensitive: true, trailing: false });
      this.patterns.push({
        method: spec.method,
        prefix: spec.path.slice(0, first),
        regexp,
        names: keys.map((k) => k.name),
        spec,
        value,
      });
    }
  }

  match(method: string, pathname: string): RouteMatch<T> | undefined {
    const exact = this.exact.get(`${method} ${pathname}`);
    if (exact) return { ...exact, params: {} };
    for (const pattern of this.patterns) {
      if (pattern.method !== method || !pathname.startsWith(pattern.prefix)) continue;
      const found = pattern.regexp.exec(pathname);
      if (!found) continue;
      const params: Record<string, string> = {};
      pattern.names.forEach((name, i) => {
        params[name] = safeDecode(found[i + 1] as string);
      });
      return { spec: pattern.spec, value: pattern.value, params };
    }
    return undefined;
  }
}
