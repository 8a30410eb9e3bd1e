/**
 * The canonical serialisation that the hash chain covers, and the same fields as a positional
 * row: the order of the fields here is the order of the hashed array and of the table's
 * columns after `seq`, so a batch travels and is stored as plain arrays.
 */
import type { AuditEntry } from './record.js'

/** Columns of `audit_log` between `seq` and the hashes, in canonical order. */
export const ENTRY_COLUMNS = [
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
  'latency_us',
  'texts',
  'chars',
  'action',
  'actor',
  'detail',
  'tokens_in',
  'tokens_out',
] as const

/** An entry's fields in canonical order. */
export type EntryValues = (string | number | null)[]

const FORMAT = 'infergate-audit/1'

/** An entry as its positional values (what is hashed, and stored in that column order). */
export function entryValues(entry: AuditEntry): EntryValues {
  return [
    entry.time,
    entry.kind,
    entry.requestId,
    entry.keyId,
    entry.keyPrefix,
    entry.ip,
    entry.method,
    entry.route,
    entry.model,
    entry.status,
    entry.outcome,
    entry.cost,
    entry.latencyUs,
    entry.texts,
    entry.chars,
    entry.action,
    entry.actor,
    entry.detail,
    entry.tokensIn ?? null,
    entry.tokensOut ?? null,
  ]
}

/** Values before the token counts: all a record without tokens hashes, as before they existed. */
const BASE_VALUES = ENTRY_COLUMNS.length - 2

/**
 * The bytes the hash covers: a JSON array of the values led by a format tag. JSON gives one
 * spelling per value (strings escaped alike, integers without exponent), so the same record
 * always serialises the same way, in any process and from either database.
 */
export function canonicalValues(values: EntryValues): string {
  // Records of LLM requests (migration 0012) also hash their token counts; every other record
  // hashes exactly what it did before, so older chains verify unchanged.
  const withTokens = values[BASE_VALUES] !== null || values[BASE_VALUES + 1] !== null
  return JSON.stringify([FORMAT, ...(withTokens ? values : values.slice(0, BASE_VALUES))])
}

/** The canonical serialisation of an entry. */
export function canonical(entry: AuditEntry): string {
  return canonicalValues(entryValues(entry))
}
