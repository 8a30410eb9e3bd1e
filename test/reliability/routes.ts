/** The routes of a running server, read from its OpenAPI document so that new routes are included. */

export interface Route {
  method: string
  /** OpenAPI path, with `{param}` placeholders. */
  path: string
}

/** Every documented operation, plus the undocumented public pages and an unknown path. */
export async function routesOf(url: string): Promise<Route[]> {
  const document = (await (await fetch(`${url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> }
  const routes: Route[] = []
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const method of Object.keys(operations)) routes.push({ method: method.toUpperCase(), path })
  }
  return [...routes, { method: 'GET', path: '/openapi.json' }, { method: 'GET', path: '/docs' }, { method: 'GET', path: '/nowhere/at/all' }]
}

/** The path with each `{param}` replaced by the value. */
export function fillPath(path: string, value = 'x'): string {
  return path.replace(/\{[^}]+\}/g, encodeURIComponent(value))
}
