/**
 * `GET /v1/usage/tokens`: LLM tokens in and out per key, model and time bucket (day by default,
 * UTC). An admin key sees every key (or the one named by `key`); any other key only itself.
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { tokensByKeyModel } from '../audit/token-usage.js'
import { BUCKETS } from '../audit/usage.js'
import { AppError, ErrorCode } from '../errors.js'
import { requirePrincipal } from '../http/ledger.js'
import { ErrorResponse, protectedErrors } from './common.js'
import { parseRange, rangeQuery } from './audit-query.js'
import { TokenUsagePage } from './token-usage-schemas.js'

const BUCKET_NAMES = Object.keys(BUCKETS) as (keyof typeof BUCKETS)[]

export default async function tokenUsageRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, clock } = app.services
  app.get(
    '/v1/usage/tokens',
    {
      config: { scope: ['admin', 'predict'] },
      schema: {
        tags: ['audit'],
        summary: 'LLM tokens per key, model and time bucket',
        description: 'Admin keys see every key; other keys see only their own tokens. Rows by bucket, key and model, at most `limit`.',
        querystring: Type.Object(
          { ...rangeQuery, bucket: Type.Enum(BUCKET_NAMES, { default: 'day', description: 'Size of the time buckets' }) },
          { additionalProperties: false },
        ),
        response: {
          200: TokenUsagePage,
          ...protectedErrors,
          422: ErrorResponse,
        },
      },
    },
    async (request) => {
      const principal = requirePrincipal(request)
      const admin = principal.scopes.includes('admin')
      const { key, bucket, limit } = request.query
      if (!admin && key !== undefined && key !== principal.keyId) {
        throw new AppError(ErrorCode.InsufficientScope, "Only a key with the 'admin' scope can see the usage of other keys")
      }
      const rows = await tokensByKeyModel(
        db.kysely,
        { ...parseRange(request.query, clock.now()), keyId: admin ? key : principal.keyId },
        bucket,
        limit,
      )
      return {
        bucket,
        rows: rows.map((row) => ({
          key_id: row.keyId,
          model: row.model,
          bucket_start: new Date(row.bucketStart).toISOString(),
          requests: row.requests,
          tokens_in: row.tokensIn,
          tokens_out: row.tokensOut,
        })),
      }
    },
  )
}
