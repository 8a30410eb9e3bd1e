/**
 * The API key format: `igk_` + 32 random base62 characters + a 6-character base62 CRC32 of
 * everything before it (42 characters in all, about 190 bits of randomness).
 *
 * The fixed prefix and the checksum are what GitHub's token format uses: secret scanners
 * recognise a leaked key by its shape, and typos are rejected without a database lookup.
 */
import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

export const KEY_PREFIX = 'igk_'
const RANDOM_LENGTH = 32
const CHECKSUM_LENGTH = 6
/** Characters after the prefix: the random part and the checksum. */
export const KEY_BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH
/** Characters of the key shown to humans: the prefix and the first random characters. */
const VISIBLE_LENGTH = KEY_PREFIX.length + 6
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
/** The characters of the body (base62) as a regular-expression class. */
const KEY_ALPHABET_CLASS = '[0-9A-Za-z]'

/** A key's shape as regular-expression source, unanchored: every pattern below is built from it. */
export const KEY_PATTERN = `${KEY_PREFIX}${KEY_ALPHABET_CLASS}{${KEY_BODY_LENGTH}}`
/** The whole key, anchored; for validation. */
export const KEY_REGEX = new RegExp(`^${KEY_PATTERN}$`)
/** For secret scanners (gitleaks, GitHub custom patterns): a key anywhere in a text. */
export const KEY_SCAN_REGEX = new RegExp(`\\b${KEY_PATTERN}\\b`, 'g')

// No word boundaries: a key glued to other characters (`key_igk_...`) is found too.
const KEY_SHAPE = new RegExp(KEY_PATTERN)
const KEY_ANYWHERE = new RegExp(KEY_PATTERN, 'g')

/** True when a text contains something shaped like a key (checksum or not). */
export function containsKey(text: string): boolean {
  return text.includes(KEY_PREFIX) && KEY_SHAPE.test(text)
}

/** Replaces everything shaped like a key by its visible prefix and `…[redacted]`. */
export function redactKeys(text: string): string {
  if (!text.includes(KEY_PREFIX)) return text
  return text.replace(KEY_ANYWHERE, (key) => `${visiblePrefix(key)}…[redacted]`)
}

/** Encodes an unsigned 32-bit integer as exactly `width` base62 digits. */
function base62(value: number, width: number): string {
  let out = ''
  for (let rest = value; out.length < width; rest = Math.floor(rest / 62)) out = BASE62[rest % 62]! + out
  return out
}

/** Uniform base62 characters by rejection sampling (bytes 248..255 are dropped to avoid bias). */
function randomBase62(length: number): string {
  let out = ''
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62]
    }
  }
  return out
}

function checksum(body: string): string {
  return base62(crc32(body), CHECKSUM_LENGTH)
}

/** A new random API key. */
export function generateKey(): string {
  return withChecksum(KEY_PREFIX + randomBase62(RANDOM_LENGTH))
}

/**
 * A well-formed key that starts with the first `shared` random characters of `key` and goes
 * on at random (never equal to `key`): for measuring how verification treats near misses.
 */
export function keySharingPrefix(key: string, shared: number): string {
  const keep = key.slice(0, KEY_PREFIX.length + shared)
  for (;;) {
    const candidate = withChecksum(keep + randomBase62(RANDOM_LENGTH - shared))
    // The character after the shared ones must differ, or more would be shared.
    if (shared === RANDOM_LENGTH || candidate[keep.length] !== key[keep.length]) return candidate
  }
}

function withChecksum(body: string): string {
  return body + checksum(body)
}

/** True when the string has the key's shape and its checksum matches. No database involved. */
export function isWellFormedKey(candidate: string): boolean {
  if (candidate.length !== KEY_PREFIX.length + KEY_BODY_LENGTH || !KEY_REGEX.test(candidate)) {
    return false
  }
  const split = candidate.length - CHECKSUM_LENGTH
  return checksum(candidate.slice(0, split)) === candidate.slice(split)
}

/** The part of a key that may be shown and stored: `igk_` and six characters. */
export function visiblePrefix(key: string): string {
  return key.slice(0, VISIBLE_LENGTH)
}

/** A random identifier for records (not secret), e.g. `key_3fA9...`. */
export function randomId(prefix: string, length = 16): string {
  return `${prefix}_${randomBase62(length)}`
}
