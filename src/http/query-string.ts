/**
 * Query strings decoded as the FastAPI reference service decodes them (Starlette's
 * `urllib.parse.parse_qsl(..., keep_blank_values=True)`), so that a URL a FastAPI client
 * built means the same here:
 * - pairs are split on `&`; a pair without `=` is the name with an empty value;
 * - `+` is a space; each `%XX` escape is a byte, and a `%` not followed by two hex digits is
 *   kept as it is: `?text=100%%20great` is `100% great` (Fastify's default parser left the
 *   whole value undecoded after one bad escape, and classified `100%%20great` literally);
 * - a name given more than once keeps all its values in order; the route's schema decides
 *   which one counts (`http/query-values.ts`).
 *
 * One deliberate difference: escapes that are not UTF-8 once decoded (`?text=%FF`) are not
 * replaced by U+FFFD as Starlette does. The query is marked, and a route reading it answers
 * `400 invalid_encoding`, as for a body that is not UTF-8: infergate never classifies a text
 * the client did not send.
 */

/** Marks a parsed query holding escapes that are not UTF-8. */
const UNDECODABLE = Symbol('undecodable query')

/** A parsed query: each name's value, or its values when given more than once. */
export type ParsedQuery = Record<string, string | string[]>

const utf8 = new TextDecoder('utf-8', { fatal: true })
const HEX_PAIR = /^[0-9A-Fa-f]{2}$/

/** `%XX` escapes decoded one run of bytes at a time; a stray `%` is kept. Undefined: not UTF-8. */
function decodeEscapes(text: string): string | undefined {
  let out = ''
  let bytes: number[] = []
  let start = 0
  const flush = (): boolean => {
    if (bytes.length === 0) return true
    try {
      out += utf8.decode(Uint8Array.from(bytes))
    } catch {
      return false
    }
    bytes = []
    return true
  }
  for (let i = text.indexOf('%'); i !== -1; i = text.indexOf('%', i + 1)) {
    const pair = text.slice(i + 1, i + 3)
    if (!HEX_PAIR.test(pair)) continue
    if (i > start) {
      if (!flush()) return undefined
      out += text.slice(start, i)
    }
    bytes.push(Number.parseInt(pair, 16))
    start = i + 3
  }
  if (!flush()) return undefined
  return out + text.slice(start)
}

/** One name or value decoded; undefined when its escapes are not UTF-8. */
function decode(raw: string): string | undefined {
  const text = raw.includes('+') ? raw.replaceAll('+', ' ') : raw
  if (!text.includes('%')) return text
  try {
    // The common case: every escape well formed and UTF-8.
    return decodeURIComponent(text)
  } catch {
    return decodeEscapes(text)
  }
}

/** Fastify's `querystringParser`: never throws, whatever the bytes. */
export function parseQueryString(query: string): ParsedQuery {
  // No prototype: a `__proto__` name is a name like any other.
  const result = Object.create(null) as ParsedQuery
  if (query.length === 0) return result
  for (const pair of query.split('&')) {
    if (pair === '') continue
    const eq = pair.indexOf('=')
    const rawName = eq === -1 ? pair : pair.slice(0, eq)
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1)
    const name = decode(rawName)
    const value = decode(rawValue)
    // Kept undecoded, so that the parameter is present and its route answers 400.
    // The mark is not enumerable: a copy of the query, or a log of it, shows names and values only.
    if (name === undefined || value === undefined) Object.defineProperty(result, UNDECODABLE, { value: true })
    add(result, name ?? rawName, value ?? rawValue)
  }
  return result
}

function add(result: ParsedQuery, name: string, value: string): void {
  const previous = result[name]
  if (previous === undefined) result[name] = value
  else if (Array.isArray(previous)) previous.push(value)
  else result[name] = [previous, value]
}

/** Whether `query` (a request's parsed query) held escapes that are not UTF-8. */
export function isUndecodable(query: unknown): boolean {
  return typeof query === 'object' && query !== null && UNDECODABLE in query
}
