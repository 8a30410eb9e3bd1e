/**
 * Which methods a path has routes for, so that a wrong method is told apart from an unknown
 * path (405 with `Allow`, as FastAPI answers, rather than 404).
 *
 * Paths are matched against Fastify's route patterns: a `:name` parameter is one non-empty
 * path segment (or the rest of one, as in `:file.json`), `*` is anything. Regular-expression
 * parameters (`:id(^\\d+$)`) are not used by the app and would be matched as plain parameters.
 */

// The order of the Allow header; other methods follow, alphabetically.
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

const rank = (method: string) => {
  const index = ORDER.indexOf(method)
  return index === -1 ? ORDER.length : index
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** A route pattern as an anchored regular expression over the path (no query string). */
function patternOf(url: string): RegExp {
  const source = url
    .split(/(:[A-Za-z0-9_]+(?:\([^)]*\))?|\*)/)
    .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+?' : escapeRegExp(part)))
    .join('')
  return new RegExp(`^${source}$`)
}

/** The app's route patterns and their methods. */
export class AllowedMethods {
  private readonly routes = new Map<string, { pattern: RegExp; methods: Set<string> }>()

  /** Records that `url` (a route pattern) answers `methods`. Catch-all patterns are ignored. */
  add(url: string, methods: readonly string[]): void {
    // A catch-all (such as @fastify/cors's OPTIONS * for preflights) is not a resource.
    if (url === '*' || url === '/*') return
    let route = this.routes.get(url)
    if (!route) {
      route = { pattern: patternOf(url), methods: new Set() }
      this.routes.set(url, route)
    }
    for (const method of methods) route.methods.add(method)
  }

  /** The methods `path` has routes for, in the Allow header's order; empty for an unknown path. */
  of(path: string): string[] {
    const methods = new Set<string>()
    for (const route of this.routes.values()) {
      if (route.pattern.test(path)) for (const method of route.methods) methods.add(method)
    }
    return [...methods].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  }
}
