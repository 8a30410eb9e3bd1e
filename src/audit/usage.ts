/**
 * Usage per key, read from the audit log: requests per time bucket counted by outcome, with
 * their total cost. Only request records with a known key count (a request without a valid
 * key id belongs to no one's usage; it is still in the audit log).
 */
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import type { DatabaseSchema } from '../db/schema.js'
import type { Outcome } from './record.js'
import { OUTCOMES } from './record.js'

export const BUCKETS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const
export type BucketName = keyof typeof BUCKETS

export interface UsageFilter {
  since?: number
  until?: number
  keyId?: string
}

/** Where a page of usage rows ends: the last bucket start and key id. */
export interface UsageCursor {
  bucketStart: number
  keyId: string
}

interface UsageRow {
  keyId: string
  keyPrefix: string | null
  /** Start of the bucket, ms since the epoch (UTC). */
  bucketStart: number
  requests: number
  cost: number
  outcomes: Partial<Record<Outcome, number>>
}

export interface UsagePage {
  rows: UsageRow[]
  /** Pass back as `after` for the next page; null on the last page. */
  next: UsageCursor | null
}

/** The request records of known keys that the filter selects (usage counts no others). */
export function requestRecords(db: Kysely<DatabaseSchema>, filter: UsageFilter) {
  let query = db.selectFrom('audit_log').where('kind', '=', 'request').where('key_id', 'is not', null)
  if (filter.since !== undefined) query = query.where('time', '>=', filter.since)
  if (filter.until !== undefined) query = query.where('time', '<', filter.until)
  if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId)
  return query
}

/** Rows ordered by bucket then key id, at most `limit` of them, after `after`. */
export async function usageByKey(
  db: Kysely<DatabaseSchema>,
  filter: UsageFilter,
  bucket: BucketName,
  limit: number,
  after?: UsageCursor,
): Promise<UsagePage> {
  const bucketStart = sql<number>`(time - (time % ${sql.lit(BUCKETS[bucket])}))`
  let query = requestRecords(db, filter).select((eb) => [
    bucketStart.as('bucket_start'),
    'key_id',
    'outcome',
    eb.fn.countAll<number>().as('n'),
    eb.fn.sum<number>('cost').as('cost'),
    eb.fn.max('key_prefix').as('key_prefix'),
  ])
  if (after) {
    query = query.where((eb) =>
      eb.or([eb(bucketStart, '>', after.bucketStart), eb.and([eb(bucketStart, '=', after.bucketStart), eb('key_id', '>', after.keyId)])]),
    )
  }
  // A (bucket, key) pair has at most one group per outcome: this many groups always hold
  // `limit` complete pairs, plus the start of one more when there is a next page.
  const groups = await query
    .groupBy([bucketStart, 'key_id', 'outcome'])
    .orderBy(bucketStart)
    .orderBy('key_id')
    .orderBy('outcome')
    .limit((limit + 1) * OUTCOMES.length)
    .execute()
  const rows: UsageRow[] = []
  for (const group of groups) {
    const start = Number(group.bucket_start)
    let row = rows[rows.length - 1]
    if (!row || row.bucketStart !== start || row.keyId !== group.key_id) {
      if (rows.length === limit) return { rows, next: { bucketStart: row!.bucketStart, keyId: row!.keyId } }
      row = { keyId: group.key_id!, keyPrefix: group.key_prefix, bucketStart: start, requests: 0, cost: 0, outcomes: {} }
      rows.push(row)
    }
    const count = Number(group.n)
    row.requests += count
    row.cost += Number(group.cost)
    row.outcomes[group.outcome as Outcome] = count
  }
  return { rows, next: null }
}

/** Requests per key since `since`, by outcome: for `keys list`. */
export async function countsByKeySince(
  db: Kysely<DatabaseSchema>,
  since: number,
  keyIds?: readonly string[],
): Promise<Map<string, Partial<Record<Outcome, number>>>> {
  if (keyIds !== undefined && keyIds.length === 0) return new Map()
  let query = db
    .selectFrom('audit_log')
    .select((eb) => ['key_id', 'outcome', eb.fn.countAll<number>().as('n')])
    .where('kind', '=', 'request')
    .where('key_id', 'is not', null)
    .where('time', '>=', since)
  if (keyIds !== undefined) query = query.where('key_id', 'in', keyIds)
  const groups = await query.groupBy(['key_id', 'outcome']).execute()
  const counts = new Map<string, Partial<Record<Outcome, number>>>()
  for (const group of groups) {
    const byOutcome = counts.get(group.key_id!) ?? {}
    byOutcome[group.outcome as Outcome] = Number(group.n)
    counts.set(group.key_id!, byOutcome)
  }
  return counts
}

/** Requests, of which refused (any outcome but `ok`), and the count per outcome. */
export interface UsageSummary {
  requests: number
  rejected: number
  by_outcome: Partial<Record<Outcome, number>>
}

/** Sums per-key outcome counts (e.g. from `countsByKeySince`) into one summary. */
export function summarize(counts: Iterable<Partial<Record<Outcome, number>>>): UsageSummary {
  const byOutcome: Partial<Record<Outcome, number>> = {}
  for (const perKey of counts) {
    for (const [outcome, n] of Object.entries(perKey) as [Outcome, number][]) byOutcome[outcome] = (byOutcome[outcome] ?? 0) + n
  }
  const requests = Object.values(byOutcome).reduce((sum, n) => sum + n, 0)
  return { requests, rejected: requests - (byOutcome.ok ?? 0), by_outcome: byOutcome }
}
