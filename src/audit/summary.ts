/**
 * A summary of the traffic in a time range, read from the audit log, for the dashboard's
 * overview: requests per time bucket by outcome (every request record, with or without a known
 * key), latency percentiles, and the keys with the most requests and the most rejections.
 */
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import type { DatabaseSchema } from '../db/schema.js'
import type { Outcome } from './outcomes.js'
import { REJECTED_OUTCOMES } from './outcomes.js'
import type { BucketName } from './usage.js'
import { BUCKETS } from './usage.js'

export interface SummaryRange {
  since: number
  until: number
}

export interface SeriesPoint {
  /** Start of the bucket, ms since the epoch (UTC). */
  bucketStart: number
  requests: number
  outcomes: Partial<Record<Outcome, number>>
}

export interface KeyTotals {
  keyId: string
  keyPrefix: string | null
  /** The key's name now (null when the key no longer exists). */
  keyName: string | null
  requests: number
  rejections: number
}

export interface LatencyPercentiles {
  /** Requests with a latency in the range. */
  count: number
  p50Ms: number | null
  p99Ms: number | null
}

type Db = Kysely<DatabaseSchema>

function requestsIn(db: Db, range: SummaryRange) {
  return db.selectFrom('audit_log').where('kind', '=', 'request').where('time', '>=', range.since).where('time', '<', range.until)
}

/**
 * Requests per bucket by outcome, in time order; buckets without requests are left out. The
 * requests refused before any key was identified, counted per address and minute
 * (`unauthenticated` records), are added with their counts.
 */
export async function requestSeries(db: Db, range: SummaryRange, bucket: BucketName): Promise<SeriesPoint[]> {
  const size = BUCKETS[bucket]
  const bucketStart = sql<number>`(time - (time % ${sql.lit(size)}))`
  const groups = await requestsIn(db, range)
    .select((eb) => [bucketStart.as('bucket_start'), 'outcome', eb.fn.countAll<number>().as('n')])
    .groupBy([bucketStart, 'outcome'])
    .execute()
  const points = new Map<number, SeriesPoint>()
  const add = (start: number, outcome: Outcome, count: number) => {
    let point = points.get(start)
    if (!point) points.set(start, (point = { bucketStart: start, requests: 0, outcomes: {} }))
    point.requests += count
    point.outcomes[outcome] = (point.outcomes[outcome] ?? 0) + count
  }
  for (const group of groups) add(Number(group.bucket_start), group.outcome as Outcome, Number(group.n))
  for (const summary of await unauthenticatedIn(db, range)) add(summary.time - (summary.time % size), summary.outcome, summary.requests)
  return [...points.values()].sort((a, b) => a.bucketStart - b.bucketStart)
}

/** The `unauthenticated` summaries in the range (bounded: one per address, minute and outcome). */
async function unauthenticatedIn(db: Db, range: SummaryRange): Promise<{ time: number; outcome: Outcome; requests: number }[]> {
  const rows = await db
    .selectFrom('audit_log')
    .select(['time', 'outcome', 'detail'])
    .where('kind', '=', 'unauthenticated')
    .where('time', '>=', range.since)
    .where('time', '<', range.until)
    .execute()
  return rows.map((row) => ({
    time: Number(row.time),
    outcome: row.outcome as Outcome,
    requests: (JSON.parse(row.detail ?? '{}') as { requests?: number }).requests ?? 0,
  }))
}

/** Nearest-rank percentiles of the request latencies, read with one indexed probe each. */
export async function latencyPercentiles(db: Db, range: SummaryRange): Promise<LatencyPercentiles> {
  const timed = () => requestsIn(db, range).where('latency_us', 'is not', null)
  const counted = await timed()
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst()
  const count = Number(counted?.n ?? 0)
  const at = async (p: number): Promise<number | null> => {
    if (count === 0) return null
    const row = await timed()
      .select('latency_us')
      .orderBy('latency_us')
      .limit(1)
      .offset(Math.max(0, Math.ceil(p * count) - 1))
      .executeTakeFirst()
    return row?.latency_us == null ? null : Number(row.latency_us) / 1000
  }
  return { count, p50Ms: await at(0.5), p99Ms: await at(0.99) }
}

/** The `limit` keys with the most requests, or the most rejections, in the range. */
export async function topKeys(db: Db, range: SummaryRange, by: 'requests' | 'rejections', limit: number): Promise<KeyTotals[]> {
  const rejected = sql<number>`sum(case when outcome in (${sql.join(REJECTED_OUTCOMES.map((o) => sql.lit(o)))}) then 1 else 0 end)`
  const requests = sql<number>`count(*)`
  const rows = await requestsIn(db, range)
    .where('key_id', 'is not', null)
    .select((eb) => ['key_id', eb.fn.max('key_prefix').as('key_prefix'), requests.as('requests'), rejected.as('rejections')])
    .groupBy('key_id')
    .having(by === 'requests' ? requests : rejected, '>', 0)
    .orderBy(by === 'requests' ? requests : rejected, 'desc')
    .orderBy('key_id')
    .limit(limit)
    .execute()
  const names = await keyNames(
    db,
    rows.map((row) => row.key_id!),
  )
  return rows.map((row) => ({
    keyId: row.key_id!,
    keyPrefix: row.key_prefix,
    keyName: names.get(row.key_id!) ?? null,
    requests: Number(row.requests),
    rejections: Number(row.rejections),
  }))
}

async function keyNames(db: Db, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map()
  const rows = await db.selectFrom('api_keys').select(['id', 'name']).where('id', 'in', ids).execute()
  return new Map(rows.map((row) => [row.id, row.name]))
}
