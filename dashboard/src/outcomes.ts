/** The outcome groups the charts draw: ok, rate-limited, invalid key, client errors, server errors. */
import type { Outcome, SeriesPoint } from './types'

export interface OutcomeGroup {
  label: string
  outcomes: Outcome[]
  color: string
}

export const OUTCOME_GROUPS: OutcomeGroup[] = [
  { label: 'ok', outcomes: ['ok'], color: '#2e7d32' },
  { label: 'rate-limited', outcomes: ['rate_limited'], color: '#ef6c00' },
  { label: 'invalid key', outcomes: ['missing_key', 'invalid_key', 'expired_key', 'revoked_key', 'insufficient_scope'], color: '#6a1b9a' },
  { label: 'bad request', outcomes: ['bad_request'], color: '#546e7a' },
  { label: 'errors', outcomes: ['timeout', 'server_busy', 'error', 'aborted'], color: '#c62828' },
]

export interface GroupedSeries {
  /** Bucket starts in seconds (uPlot's x axis), every bucket of the range, empty ones as 0. */
  times: number[]
  /** One array per OUTCOME_GROUPS entry, aligned with times. */
  counts: number[][]
  totals: number[]
}

/** Requests per bucket and outcome group over [since, until), missing buckets filled with zeros. */
export function groupSeries(points: SeriesPoint[], since: number, until: number, bucketMs: number): GroupedSeries {
  const byStart = new Map(points.map((point) => [Date.parse(point.bucket_start), point]))
  const times: number[] = []
  const counts = OUTCOME_GROUPS.map(() => [] as number[])
  for (let start = since - (since % bucketMs); start < until; start += bucketMs) {
    times.push(start / 1000)
    const point = byStart.get(start)
    OUTCOME_GROUPS.forEach((group, index) => {
      counts[index]!.push(group.outcomes.reduce((sum, outcome) => sum + (point?.outcomes[outcome] ?? 0), 0))
    })
  }
  const totals = counts.map((series) => series.reduce((sum, n) => sum + n, 0))
  return { times, counts, totals }
}
