/** The outcome groups the charts draw: ok, rate-limited, invalid key, client errors, server errors. */
import type { Outcome, SeriesPoint } from './types'
import { OUTCOMES } from './types'

export interface OutcomeGroup {
  label: string
  outcomes: Outcome[]
  color: string
}

const GROUPS = [
  { label: 'ok', color: '#2e7d32' },
  { label: 'rate-limited', color: '#ef6c00' },
  { label: 'invalid key', color: '#6a1b9a' },
  { label: 'bad request', color: '#546e7a' },
  { label: 'errors', color: '#c62828' },
] as const
type GroupLabel = (typeof GROUPS)[number]['label']

/** Every outcome's group: a Record over all outcomes, so a new outcome does not compile until it has one. */
const GROUP_OF: Record<Outcome, GroupLabel> = {
  ok: 'ok',
  rate_limited: 'rate-limited',
  concurrency_limited: 'rate-limited',
  quota_exhausted: 'rate-limited',
  missing_key: 'invalid key',
  invalid_key: 'invalid key',
  expired_key: 'invalid key',
  revoked_key: 'invalid key',
  disabled_key: 'invalid key',
  rotated_key: 'invalid key',
  ip_not_allowed: 'invalid key',
  insufficient_scope: 'invalid key',
  bad_request: 'bad request',
  timeout: 'errors',
  server_busy: 'errors',
  upstream_error: 'errors',
  upstream_unavailable: 'errors',
  upstream_timeout: 'errors',
  error: 'errors',
  aborted: 'errors',
}

export const OUTCOME_GROUPS: OutcomeGroup[] = GROUPS.map((group) => ({
  ...group,
  outcomes: OUTCOMES.filter((outcome) => GROUP_OF[outcome] === group.label),
}))

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
