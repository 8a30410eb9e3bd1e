/** The answer of `GET /v1/usage/tokens`: one schema for the route, the OpenAPI document and the dashboard's types. */
import { Type } from 'typebox'
import { BUCKETS } from '../audit/usage.js'

const BUCKET_NAMES = Object.keys(BUCKETS) as (keyof typeof BUCKETS)[]

const TokenUsageRow = Type.Object({
  key_id: Type.String(),
  model: Type.String(),
  bucket_start: Type.String({ format: 'date-time' }),
  requests: Type.Integer(),
  tokens_in: Type.Integer({ description: 'Prompt tokens (as the upstream reported; as reserved when it reported none)' }),
  tokens_out: Type.Integer({ description: 'Completion tokens (the same)' }),
})

/** The answer of `GET /v1/usage/tokens` (the dashboard's type too). */
export const TokenUsagePage = Type.Object({ bucket: Type.Enum(BUCKET_NAMES), rows: Type.Array(TokenUsageRow) })
