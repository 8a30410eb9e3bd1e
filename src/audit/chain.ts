/**
 * The hash chain: each record stores `hash = SHA-256(prev_hash ‖ canonical(record))`, where
 * `prev_hash` is the hash of the record before it (64 zeros for the first). Changing, removing
 * or moving any record breaks the link to every record after it.
 */
import { createHash, hash as oneShotHash } from 'node:crypto'
import type { EntryValues } from './canonical.js'
import { canonicalValues, entryValues } from './canonical.js'
import type { AuditEntry, AuditRecord } from './record.js'

/** The previous hash of the very first record. */
export const GENESIS_HASH = '0'.repeat(64)

function sha256Hex(text: string): string {
  return typeof oneShotHash === 'function' ? oneShotHash('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex')
}

/** The hash of values chained after a record whose hash is `prevHash`. */
function hashValues(prevHash: string, values: EntryValues): string {
  // prevHash is always 64 hex characters, so plain concatenation is unambiguous.
  return sha256Hex(prevHash + canonicalValues(values))
}

/** The hash of `entry` chained after a record whose hash is `prevHash`. */
export function chainHash(prevHash: string, entry: AuditEntry): string {
  return hashValues(prevHash, entryValues(entry))
}

/** A stored row, positionally: seq, the entry's values in canonical order, prev_hash, hash. */
export type ChainedRow = (string | number | null)[]

/** Chains entries (as values) after `head`, numbering them from `head.seq + 1`. */
export function chainAfter(head: { seq: number; hash: string }, batch: readonly EntryValues[]): ChainedRow[] {
  let { seq, hash: prevHash } = head
  return batch.map((values) => {
    const hash = hashValues(prevHash, values)
    const row = [++seq, ...values, prevHash, hash]
    prevHash = hash
    return row
  })
}

/** True when a stored record's hash matches its own content and previous hash. */
export function isSelfConsistent(record: AuditRecord): boolean {
  return chainHash(record.prevHash, record) === record.hash
}
