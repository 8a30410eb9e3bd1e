/**
 * Keys are stored and looked up only as SHA-256 digests. The keys carry ~190 bits of
 * randomness, so a fast hash is enough: a stolen digest cannot be reversed or guessed.
 */
import { createHash, hash, timingSafeEqual } from 'node:crypto'

/** Hex SHA-256 of a key. `crypto.hash` (Node >= 20.12) is the one-shot fast path. */
export function hashKey(key: string): string {
  return typeof hash === 'function' ? hash('sha256', key, 'hex') : createHash('sha256').update(key).digest('hex')
}

/** Compares two hex digests in constant time. */
export function digestsEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'))
}
