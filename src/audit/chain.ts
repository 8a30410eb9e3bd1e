/**
 * The hash chain: each record stores `hash = SHA-256(prev_hash ‖ canonical(record))`, where
 * `prev_hash` is the hash of the record before it (64 zeros for the first). Changing, removing
 * or moving any record breaks the link to every record after it.
 */
import { createHash, hash as oneShotHash } from 'node:crypto'
import type { AuditEntry, AuditRecord } from './record.js'
import { canonical } from './record.js'

/** The previous hash of the very first record. */
export const GENESIS_HASH = '0'.repeat(64)

function sha256Hex(text: string): string {
  return typeof oneShotHash === 'function' ? oneShotHash('sha256', text, 'hex') : createHash('sha256').update(text).digest('hex')
}

/** The hash of `entry` chained after a record whose hash is `prevHash`. */
export function chainHash(prevHash: string, entry: AuditEntry): string {
  // prevHash is always 64 hex characters, so plain concatenation is unambiguous.
  return sha256Hex(prevHash + canonical(entry))
}

/** Chains entries after `head`, numbering them from `head.seq + 1`. */
export function chainAfter(head: { seq: number; hash: string }, entries: readonly AuditEntry[]): AuditRecord[] {
  let { seq, hash: prevHash } = head
  return entries.map((entry) => {
    const hash = chainHash(prevHash, entry)
    const record: AuditRecord = { ...entry, seq: ++seq, prevHash, hash }
    prevHash = hash
    return record
  })
}

/** True when a stored record's hash matches its own content and previous hash. */
export function isSelfConsistent(record: AuditRecord): boolean {
  return chainHash(record.prevHash, record) === record.hash
}
