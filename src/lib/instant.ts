/**
 * Points in time as the audit API and CLI take them: an ISO 8601 date or date-time
 * (`2026-06-01`, `2026-06-01T12:00:00Z`), milliseconds since the epoch (`1780000000000`), or a
 * duration back from now (`15m`, `24h`, `7d`).
 */
import { LATEST_TIME_MS, parseDuration } from './duration.js'

const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/
const EPOCH_MS = /^\d{1,15}$/

/** Milliseconds since the epoch, from 1970 to the end of 9999; throws with a readable message for anything else. */
function parseInstant(raw: string, now: number): number {
  const value = raw.trim()
  const ms = instantOf(value, now)
  if (ms !== undefined && (ms < 0 || ms > LATEST_TIME_MS)) throw new Error(`"${raw}" is not between 1970 and the end of 9999`)
  if (ms !== undefined) return ms
  throw new Error(
    `"${raw}" is not a time: use an ISO 8601 date such as 2026-06-01T12:00:00Z, epoch milliseconds, or a duration ago such as 24h`,
  )
}

function instantOf(value: string, now: number): number | undefined {
  if (EPOCH_MS.test(value)) return Number(value)
  if (ISO.test(value)) {
    const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value)
    return Number.isNaN(ms) ? undefined : ms
  }
  if (/^\d+\s*(ms|s|m|h|d|w)$/.test(value)) return now - parseDuration(value)
  return undefined
}

/** A `since` or `until` that is not a time; names which. */
export class TimeRangeError extends Error {
  constructor(
    readonly param: 'since' | 'until',
    message: string,
  ) {
    super(message)
    this.name = 'TimeRangeError'
  }
}

/** `since`/`until` as milliseconds; throws `TimeRangeError` naming the first bad one. */
export function parseTimeRange(raw: { since?: string; until?: string }, now: number): { since?: number; until?: number } {
  const range: { since?: number; until?: number } = {}
  for (const param of ['since', 'until'] as const) {
    const value = raw[param]
    if (value === undefined) continue
    try {
      range[param] = parseInstant(value, now)
    } catch (error) {
      throw new TimeRangeError(param, (error as Error).message)
    }
  }
  return range
}
