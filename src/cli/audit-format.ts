/** One readable line per audit record, for `audit tail`. */
import type { AuditRecord } from '../audit/record.js'

function who(record: AuditRecord): string {
  if (record.keyId === null && record.keyPrefix === null) return '-'
  if (record.keyId === null) return `${record.keyPrefix}… (unknown)`
  return record.keyPrefix ? `${record.keyId} (${record.keyPrefix}…)` : record.keyId
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

/** `#12  2026-06-01 12:00:00.123  POST /predict  200 ok  key_… (igk_…)  127.0.0.1  …` */
export function describeRecord(record: AuditRecord): string {
  const head = `#${record.seq}  ${time(record.time)}`
  if (record.kind === 'admin') {
    return `${head}  ${record.action ?? 'admin'} ${who(record)} by ${record.actor ?? '?'}${record.detail ? `  ${record.detail}` : ''}`
  }
  if (record.kind === 'unaudited') {
    const { refused, from, to } = JSON.parse(record.detail ?? '{}') as { refused?: number; from?: number; to?: number }
    return `${head}  ${refused ?? '?'} requests refused unaudited (503, audit buffer full) between ${time(from ?? 0)} and ${time(to ?? 0)}`
  }
  if (record.kind === 'unauthenticated') {
    const { requests } = JSON.parse(record.detail ?? '{}') as { requests?: number }
    return `${head}  ${requests ?? '?'} requests without a known key from ${record.ip ?? '?'} this minute: ${record.status ?? '-'} ${record.outcome}`
  }
  const parts = [
    head,
    `${record.method ?? '?'} ${record.route ?? '?'}`,
    `${record.status ?? '-'} ${record.outcome}`,
    who(record),
    record.ip ?? '-',
  ]
  if (record.model !== null) parts.push(`${record.model} texts=${record.texts ?? 0} chars=${record.chars ?? 0}`)
  parts.push(`cost=${record.cost}`)
  if (record.latencyUs !== null) parts.push(`${(record.latencyUs / 1000).toFixed(2)}ms`)
  if (record.requestId !== null) parts.push(`req=${record.requestId}`)
  return parts.join('  ')
}
