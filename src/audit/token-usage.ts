/**
 * Tokens per key, model and time bucket, read from the audit log's LLM request records
 * (`tokens_in`/`tokens_out`, migration 0012): what the upstream reported, or the reservation
 * when it reported none.
 */
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import type { DatabaseSchema } from '../db/schema.js'
import type { BucketName, UsageFilter } from './usage.js'
import { BUCKETS, requestRecords } from './usage.js'

export interface TokenUsageRow {
  keyId: string
  model: string
  bucketStart: number
  requests: number
  tokensIn: number
  tokensOut: number
}

/** Rows ordered by bucket, key and model; at most `limit`. */
export async function tokensByKeyModel(
  db: Kysely<DatabaseSchema>,
  filter: UsageFilter,
  bucket: BucketName,
  limit: number,
): Promise<TokenUsageRow[]> {
  const bucketStart = sql<number>`(time - (time % ${sql.lit(BUCKETS[bucket])}))`
  const query = requestRecords(db, filter)
    .select((eb) => [
      bucketStart.as('bucket_start'),
      'key_id',
      'model',
      eb.fn.countAll<number>().as('n'),
      eb.fn.sum<number>('tokens_in').as('tokens_in'),
      eb.fn.sum<number>('tokens_out').as('tokens_out'),
    ])
    .where('model', 'is not', null)
    .where('tokens_in', 'is not', null)
  const rows = await query
    .groupBy([bucketStart, 'key_id', 'model'])
    .orderBy(bucketStart)
    .orderBy('key_id')
    .orderBy('model')
    .limit(limit)
    .execute()
  return rows.map((row) => ({
    keyId: row.key_id!,
    model: row.model!,
    bucketStart: Number(row.bucket_start),
    requests: Number(row.n),
    tokensIn: Number(row.tokens_in ?? 0),
    tokensOut: Number(row.tokens_out ?? 0),
  }))
}
