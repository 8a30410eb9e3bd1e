/**
 * The audit record as the API and the CLI show it: snake_case, ISO times, latency in
 * milliseconds; and as CSV rows with the same columns.
 */
import type { AuditLogTable } from '../db/schema.js'
import type { AdminAction, AuditRecord, Outcome, RecordKind } from './record.js'
import { toRow } from './store.js'

/** The stored row, with an ISO time, latency in milliseconds and the detail as an object. */
export type AuditRecordJson = Omit<AuditLogTable, 'time' | 'kind' | 'outcome' | 'action' | 'latency_us' | 'detail'> & {
  time: string
  kind: RecordKind
  outcome: Outcome
  action: AdminAction | null
  latency_ms: number | null
  detail: Record<string, unknown> | null
}

/** The JSON form of a stored record. */
export function recordJson(record: AuditRecord): AuditRecordJson {
  const { time: _time, latency_us: _latency, detail: _detail, ...row } = toRow(record)
  return {
    ...row,
    time: new Date(record.time).toISOString(),
    kind: record.kind,
    outcome: record.outcome,
    action: record.action,
    latency_ms: record.latencyUs === null ? null : record.latencyUs / 1000,
    detail: record.detail === null ? null : (JSON.parse(record.detail) as Record<string, unknown>),
  }
}

const CSV_COLUMNS: readonly (keyof AuditRecordJson)[] = [
  'seq',
  'time',
  'kind',
  'request_id',
  'key_id',
  'key_prefix',
  'ip',
  'method',
  'route',
  'model',
  'status',
  'outcome',
  'cost',
  'latency_ms',
  'texts',
  'chars',
  'action',
  'actor',
  'detail',
  'tokens_in',
  'tokens_out',
  'prev_hash',
  'hash',
]

/** RFC 4180 quoting; cells that a spreadsheet would run as a formula are prefixed with `'`. */
function csvCell(value: AuditRecordJson[keyof AuditRecordJson]): string {
  if (value === null) return ''
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value)
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',')
}

export function csvRow(record: AuditRecord): string {
  const json = recordJson(record)
  return CSV_COLUMNS.map((column) => csvCell(json[column])).join(',')
}
