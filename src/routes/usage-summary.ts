/**
 * `GET /v1/usage/summary` (admin scope): the traffic of a time range at a glance, for the
 * dashboard's overview: requests per bucket by outcome, p50/p99 latency, and the top keys by
 * requests and by rejections.
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { OUTCOMES } from '../audit/record.js'
import type { KeyTotals } from '../audit/summary.js'
import { latencyPercentiles, requestSeries, topKeys } from '../audit/summary.js'
import type { BucketName } from '../audit/usage.js'
import { BUCKETS } from '../audit/usage.js'
import { errors } from '../errors.js'
import { ErrorResponse, Nullable, protectedErrors } from './common.js'
import { parseRange, rangeQuery } from './audit-query.js'

/** More buckets than this in one answer is a 422: ask for a larger bucket or a shorter range. */
const MAX_SUMMARY_BUCKETS = 2000
const DEFAULT_SPAN_MS = 3_600_000
const BUCKET_NAMES = Object.keys(BUCKETS) as BucketName[]

const SummaryQuery = Type.Object(
  {
    since: rangeQuery.since,
    until: rangeQuery.until,
    bucket: Type.Enum(BUCKET_NAMES, { default: 'minute', description: 'Size of the time buckets' }),
    top: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'How many keys in each top list' }),
  },
  { additionalProperties: false },
)

const KeyTotalsSchema = Type.Object({
  key_id: Type.String(),
  key_prefix: Nullable(Type.String()),
  key_name: Nullable(Type.String({ description: 'The key’s current name; null once the key is gone' })),
  requests: Type.Integer(),
  rejections: Type.Integer({ description: 'Requests refused for the key, its scope or its rate' }),
})

const Summary = Type.Object({
  since: Type.String({ format: 'date-time' }),
  until: Type.String({ format: 'date-time' }),
  bucket: Type.Enum(BUCKET_NAMES),
  series: Type.Array(
    Type.Object({
      bucket_start: Type.String({ format: 'date-time' }),
      requests: Type.Integer(),
      outcomes: Type.Object(Object.fromEntries(OUTCOMES.map((outcome) => [outcome, Type.Optional(Type.Integer())]))),
    }),
    { description: 'Every request record, with or without a known key; empty buckets are left out' },
  ),
  latency_ms: Type.Object({
    count: Type.Integer(),
    p50: Nullable(Type.Number()),
    p99: Nullable(Type.Number()),
  }),
  top_keys: Type.Object({ by_requests: Type.Array(KeyTotalsSchema), by_rejections: Type.Array(KeyTotalsSchema) }),
})

const totalsJson = (totals: KeyTotals) => ({
  key_id: totals.keyId,
  key_prefix: totals.keyPrefix,
  key_name: totals.keyName,
  requests: totals.requests,
  rejections: totals.rejections,
})

export default async function usageSummaryRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, clock } = app.services

  app.get(
    '/v1/usage/summary',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Traffic summary: requests by outcome, latency, top keys (admin)',
        description: `Default range: the last hour. At most ${MAX_SUMMARY_BUCKETS} buckets per answer.`,
        querystring: SummaryQuery,
        response: { 200: Summary, ...protectedErrors, 422: ErrorResponse },
      },
    },
    async (request) => {
      const { bucket, top } = request.query
      const now = clock.now()
      const parsed = parseRange(request.query, now)
      const until = parsed.until ?? now
      const range = { since: parsed.since ?? until - DEFAULT_SPAN_MS, until }
      if ((range.until - range.since) / BUCKETS[bucket] > MAX_SUMMARY_BUCKETS) {
        const msg = `more than ${MAX_SUMMARY_BUCKETS} ${bucket} buckets: use a larger bucket or a shorter range`
        throw errors.validation([{ loc: ['query', 'bucket'], msg, type: 'value_error' }])
      }
      const { kysely } = db
      const [series, latency, byRequests, byRejections] = await Promise.all([
        requestSeries(kysely, range, bucket),
        latencyPercentiles(kysely, range),
        topKeys(kysely, range, 'requests', top),
        topKeys(kysely, range, 'rejections', top),
      ])
      return {
        since: new Date(range.since).toISOString(),
        until: new Date(range.until).toISOString(),
        bucket,
        series: series.map((point) => ({
          bucket_start: new Date(point.bucketStart).toISOString(),
          requests: point.requests,
          outcomes: point.outcomes,
        })),
        latency_ms: { count: latency.count, p50: latency.p50Ms, p99: latency.p99Ms },
        top_keys: { by_requests: byRequests.map(totalsJson), by_rejections: byRejections.map(totalsJson) },
      }
    },
  )
}
