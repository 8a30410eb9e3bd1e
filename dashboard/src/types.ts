/** The shapes the dashboard reads from the API (see docs/api.md and the OpenAPI document). */
import type { Outcome } from '../../src/audit/outcomes.js'
// One list of outcome codes for the server and the dashboard.
export { OUTCOMES } from '../../src/audit/outcomes.js'
export type { Outcome }

export interface LimitRule {
  name: string
  limit: number
  window: string
}

export type KeyStatus = 'active' | 'disabled' | 'expired' | 'revoked' | 'rotated'
export const KEY_STATUSES: KeyStatus[] = ['active', 'disabled', 'expired', 'revoked', 'rotated']

export interface ApiKey {
  id: string
  name: string
  owner: string
  prefix: string
  scopes: string[]
  models: string[] | null
  limits: LimitRule[] | null
  metadata: Record<string, unknown> | null
  status: KeyStatus
  enabled: boolean
  created_at: string | null
  updated_at: string | null
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
  grace_ends_at: string | null
  rotated_to: string | null
}

export interface LimitState {
  subject: 'key' | 'owner'
  limit: number
  window: string
  remaining: number
  reset_seconds: number
}

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

export interface AuditRecord {
  seq: number
  time: string
  kind: string
  request_id: string | null
  key_id: string | null
  key_prefix: string | null
  ip: string | null
  method: string | null
  route: string | null
  model: string | null
  status: number | null
  outcome: Outcome
  cost: number
  latency_ms: number | null
  action: string | null
  actor: string | null
  detail: Record<string, unknown> | null
}

export interface AuditPage {
  records: AuditRecord[]
  next_after: number | null
  next_before: number | null
}

export interface VerifyReport {
  intact: boolean
  records: number
  head?: { seq: number; hash: string; time: number | null }
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
