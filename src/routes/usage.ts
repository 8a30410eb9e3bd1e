/**
 * `GET /v1/usage`: requests per key and per time bucket (minute, hour or day, UTC), counted by
 * outcome, with their total cost. An admin key sees every key (or the one named by `key`); any
 * other key sees only itself.
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { UsageCursor } from '../audit/usage.js'
import { BUCKETS, usageByKey } from '../audit/usage.js'
import { OUTCOMES } from '../audit/record.js'
import { AppError, ErrorCode, errors } from '../errors.js'
import { ErrorResponse, protectedErrors } from './common.js'
import { parseRange, rangeQuery } from './audit-query.js'
import { requirePrincipal } from '../http/ledger.js'
import { creditsView } from '../accounting/credits.js'
import { CreditsView } from './key-schemas.js'

const BUCKET_NAMES = Object.keys(BUCKETS) as (keyof typeof BUCKETS)[]

const UsageQuery = Type.Object(
  {
    ...rangeQuery,
    bucket: Type.Enum(BUCKET_NAMES, { default: 'hour', description: 'Size of the time buckets' }),
    after: Type.Optional(Type.String({ pattern: '^\\d{1,15}:key_[0-9A-Za-z]{1,64}$', description: 'The previous page’s next_after' })),
  },
  { additionalProperties: false },
)

const UsageRowSchema = Type.Object({
  key_id: Type.String(),
  key_prefix: Type.Union([Type.String(), Type.Null()]),
  bucket_start: Type.String({ format: 'date-time' }),
  requests: Type.Integer(),
  cost: Type.Integer({ description: 'Units charged against the key’s limits' }),
  outcomes: Type.Object(Object.fromEntries(OUTCOMES.map((outcome) => [outcome, Type.Optional(Type.Integer())])), {
    description: 'Requests by outcome (outcomes with none are left out)',
  }),
})

const UsagePage = Type.Object({
  bucket: Type.Enum(BUCKET_NAMES),
  rows: Type.Array(UsageRowSchema),
  next_after: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `after` for the next page; null on the last page' }),
  credits: Type.Optional(
    Type.Object(
      { key: CreditsView, owner: CreditsView },
      { description: 'For one key (a key’s own usage, or `key` given): its credit balance and its owner’s, with the next refill' },
    ),
  ),
})

function parseCursor(raw: string | undefined): UsageCursor | undefined {
  if (raw === undefined) return undefined
  const split = raw.indexOf(':')
  return { bucketStart: Number(raw.slice(0, split)), keyId: raw.slice(split + 1) }
}

export default async function usageRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, clock, keys } = app.services

  /** A key's balance and its owner's as they stand now; undefined for no such key. */
  async function creditsOf(keyId: string) {
    const record = await keys.get(keyId)
    if (!record) return undefined
    const owner = await keys.owner(record.owner)
    const now = clock.now()
    return { key: creditsView(record.credits, now), owner: creditsView(owner?.credits ?? null, now) }
  }

  app.get(
    '/v1/usage',
    {
      config: { scope: ['admin', 'predict'] },
      schema: {
        tags: ['audit'],
        summary: 'Usage per key and time bucket',
        description: 'Admin keys see every key; other keys see only their own usage.',
        querystring: UsageQuery,
        response: { 200: UsagePage, ...protectedErrors, 422: ErrorResponse },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request)
      const { key, bucket, limit, after } = request.query
      if (!principal.scopes.includes('admin') && key !== undefined && key !== principal.keyId) {
        throw new AppError(ErrorCode.InsufficientScope, "Only a key with the 'admin' scope can see the usage of other keys")
      }
      const keyId = principal.scopes.includes('admin') ? key : principal.keyId
      const cursor = parseCursor(after)
      if (cursor && !Number.isSafeInteger(cursor.bucketStart)) {
        throw errors.validation([{ loc: ['query', 'after'], msg: 'not a cursor from a previous page', type: 'value_error' }])
      }
      const page = await usageByKey(db.kysely, { ...parseRange(request.query, clock.now()), keyId }, bucket, limit, cursor)
      const credits = keyId === undefined ? undefined : await creditsOf(keyId)
      return {
        ...(credits && { credits }),
        bucket,
        rows: page.rows.map((row) => ({
          key_id: row.keyId,
          key_prefix: row.keyPrefix,
          bucket_start: new Date(row.bucketStart).toISOString(),
          requests: row.requests,
          cost: row.cost,
          outcomes: row.outcomes,
        })),
        next_after: page.next ? `${page.next.bucketStart}:${page.next.keyId}` : null,
      }
    },
  )
}
