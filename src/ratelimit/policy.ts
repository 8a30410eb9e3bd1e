/**
 * Rate-limit rules: `limit` units per `window`, with a name clients see in the IETF
 * `RateLimit-Policy` / `RateLimit` headers. Written as `60/1m`, or `burst=10/5s` with a name.
 */
import { compactDuration, parseDuration } from '../lib/duration.js'

export interface LimitRule {
  /** Shown in headers and errors, e.g. `minute`. Token characters only. */
  name: string
  /** Units admitted per window (a request costs 1, a batch of N texts costs N). */
  limit: number
  windowMs: number
}

const MIN_WINDOW_MS = 1000
const MAX_WINDOW_MS = 31 * 86_400_000
const MAX_LIMIT = 1_000_000_000

const NAMED_WINDOWS: Record<number, string> = {
  1000: 'second',
  60_000: 'minute',
  3_600_000: 'hour',
  86_400_000: 'day',
  604_800_000: 'week',
}
const RULE = /^(?:([a-z][a-z0-9_-]{0,31})=)?(\d{1,10})\/(\w+)$/

/** The default name of a rule: `minute` for 1m, `day` for 1d, else the window (`10s`). */
function defaultRuleName(windowMs: number): string {
  return NAMED_WINDOWS[windowMs] ?? compactDuration(windowMs)
}

/** Parses `60/1m` or `name=60/1m`; throws a readable message otherwise. */
export function parseRule(raw: string): LimitRule {
  const match = RULE.exec(raw.trim())
  if (!match) throw new Error(`"${raw}" is not a limit such as 60/1m or burst=10/5s`)
  const limit = Number(match[2])
  const windowMs = parseDuration(match[3]!)
  if (limit < 1 || limit > MAX_LIMIT) throw new Error(`"${raw}": the limit must be from 1 to ${MAX_LIMIT}`)
  if (windowMs < MIN_WINDOW_MS || windowMs > MAX_WINDOW_MS) throw new Error(`"${raw}": the window must be from 1s to 31d`)
  return { name: match[1] ?? defaultRuleName(windowMs), limit, windowMs }
}

/** Parses several rules and refuses two with the same name. */
export function parseRules(raws: readonly string[]): LimitRule[] {
  const rules = raws.map(parseRule)
  const names = new Set<string>()
  for (const rule of rules) {
    if (names.has(rule.name)) throw new Error(`two limits are named "${rule.name}"; name them, e.g. a=60/1m`)
    names.add(rule.name)
  }
  return rules
}

/** `minute=60/1m` — the form `parseRule` reads back. */
export function formatRule(rule: LimitRule): string {
  return `${rule.name}=${rule.limit}/${compactDuration(rule.windowMs)}`
}
