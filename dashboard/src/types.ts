/** The shapes the dashboard reads from the API (see docs/api.md and the OpenAPI document). */
import type { Outcome } from '../../src/audit/outcomes.js'
// One list of outcome codes for the server and the dashboard.
export { OUTCOMES } from '../../src/audit/outcomes.js'
export type { Outcome }
import type { Static } from 'typebox'
import type { AuditRecordSchema } from '../../src/routes/audit-schemas.js'
import type { KeyObject, LimitStateView } from '../../src/routes/key-schemas.js'
import type { TokenUsagePage as TokenUsagePageSchema } from '../../src/routes/token-usage-schemas.js'

// The API's own TypeBox schemas, as types: the dashboard cannot drift from what the server sends.
export type ApiKey = Static<typeof KeyObject>
export { KEY_STATUSES } from '../../src/keys/types.js'
type LimitState = Static<typeof LimitStateView>

export interface KeyDetail extends ApiKey {
  limit_state?: LimitState[]
}

export interface KeyPage {
  keys: ApiKey[]
  total: number
  next_offset: number | null
}

export interface CreatedKey extends ApiKey {
  key: string
}

export interface RotatedKey extends CreatedKey {
  previous: ApiKey
}

export type AuditRecord = Static<typeof AuditRecordSchema>

export type TokenUsagePage = Static<typeof TokenUsagePageSchema>

export interface AuditPage {
  records: AuditRecord[]
  next_after: number | null
  next_before: number | null
}

export interface VerifyReport {
  intact: boolean
  records: number
  head?: { seq: number; hash: string; time: string | null }
  break?: { seq: number; kind: string; explanation: string }
}

export interface SeriesPoint {
  bucket_start: string
  requests: number
  outcomes: Partial<Record<Outcome, number>>
}

export interface KeyTotals {
  key_id: string
  key_prefix: string | null
  key_name: string | null
  requests: number
  rejections: number
}

export interface UsageSummary {
  since: string
  until: string
  bucket: string
  series: SeriesPoint[]
  latency_ms: { count: number; p50: number | null; p99: number | null }
  top_keys: { by_requests: KeyTotals[]; by_rejections: KeyTotals[] }
}

export interface UsageRow {
  key_id: string
  bucket_start: string
  requests: number
  outcomes: Partial<Record<Outcome, number>>
}

export interface Job {
  id: string
  status: string
  model: string
  total: number
  done: number
  error: string | null
  created_at: string
  finished_at: string | null
}

export interface ModelInfo {
  name: string
  labels: string[]
  default: boolean
}
