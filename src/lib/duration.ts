/**
 * Human durations used across the CLI and the API: `90s`, `15m`, `24h`, `30d`, `1w`.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
}

/** The longest duration anything takes (expiries, windows, grace periods, ranges): 100 years. */
const MAX_DURATION_MS = 100 * 365 * 86_400_000

/** Parses `<integer><unit>` (at most 100 years) into milliseconds; throws with a readable message otherwise. */
export function parseDuration(raw: string): number {
  const match = /^(\d{1,9})\s*(ms|s|m|h|d|w)$/.exec(raw.trim())
  if (!match) throw new Error(`"${raw}" is not a duration such as 90s, 15m, 24h or 30d`)
  const ms = Number(match[1]) * (UNIT_MS[match[2]!] ?? 1)
  if (ms > MAX_DURATION_MS) throw new Error(`"${raw}" is longer than 100 years`)
  return ms
}

/** The latest time anything may be set to (an expiry, the end of a range): the end of 9999. */
export const LATEST_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

/** A short human form of a duration in milliseconds, e.g. `2d 3h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  const parts: string[] = []
  let rest = Math.floor(ms / 1000)
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  return parts.slice(0, 2).join(' ')
}

/**
 * An expiry time from a duration from now (`30d`) or an ISO 8601 date or date-time
 * (`2027-01-31`, `2027-01-31T12:00:00Z`); it must lie in the future.
 */
export function parseExpiry(raw: string, now: number): number {
  const trimmed = raw.trim()
  const at = /^\d{4}-\d{2}-\d{2}/.test(trimmed) ? Date.parse(trimmed) : now + parseDuration(trimmed)
  if (Number.isNaN(at)) throw new Error(`"${raw}" is neither a duration such as 30d nor an ISO 8601 date`)
  if (at <= now) throw new Error(`"${raw}" is not in the future`)
  if (at > LATEST_TIME_MS) throw new Error(`"${raw}" is after the year 9999`)
  return at
}

/** The exact duration in the largest unit that divides it: `90s`, `5m`, `2d`; readable by parseDuration. */
export function compactDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
