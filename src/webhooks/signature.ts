/**
 * Signing and checking webhook bodies as Standard Webhooks does (standardwebhooks.com): an
 * HMAC-SHA256 over `id.timestamp.body` with the shared secret, base64, sent as
 * `webhook-signature: v1,<signature>` beside `webhook-id` and `webhook-timestamp` (seconds).
 * Receivers check it with `verifyWebhook` (also `infergate webhooks verify`) or any Standard
 * Webhooks library.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

const SECRET_PREFIX = 'whsec_'
const MIN_SECRET_BYTES = 24
/** How far a timestamp may be from the receiver's clock: replays older than this are refused. */
const TIMESTAMP_TOLERANCE_S = 300

/** The secret's bytes: `whsec_<base64>` as Standard Webhooks writes it, or any other string's UTF-8. */
export function secretBytes(secret: string): Buffer {
  const bytes = secret.startsWith(SECRET_PREFIX) ? Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8')
  if (bytes.length < MIN_SECRET_BYTES)
    throw new Error(`must be at least ${MIN_SECRET_BYTES} bytes (e.g. whsec_ and 32 random bytes in base64)`)
  return bytes
}

export interface SignedHeaders {
  'webhook-id': string
  'webhook-timestamp': string
  'webhook-signature': string
}

function signature(secret: Buffer, id: string, timestampS: number, body: string): string {
  return createHmac('sha256', secret).update(`${id}.${timestampS}.${body}`).digest('base64')
}

/** The three headers that go with `body`. */
export function signWebhook(secret: Buffer, id: string, timestampS: number, body: string): SignedHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampS),
    'webhook-signature': `v1,${signature(secret, id, timestampS, body)}`,
  }
}

export type VerifyFailure = 'missing_headers' | 'stale_timestamp' | 'bad_signature'

/**
 * Checks a received webhook: the headers are present, the timestamp within 5 minutes of `nowS`
 * and one of the `v1,` signatures matches (compared in constant time). Undefined when it holds.
 */
export function verifyWebhook(
  secret: Buffer,
  headers: Partial<Record<keyof SignedHeaders, string | undefined>>,
  body: string,
  nowS = Math.floor(Date.now() / 1000),
): VerifyFailure | undefined {
  const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures } = headers
  if (!id || !timestamp || !signatures || !/^\d{1,12}$/.test(timestamp)) return 'missing_headers'
  if (Math.abs(nowS - Number(timestamp)) > TIMESTAMP_TOLERANCE_S) return 'stale_timestamp'
  const expected = Buffer.from(signature(secret, id, Number(timestamp), body))
  const matches = signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2)
    const given = Buffer.from(value ?? '')
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected)
  })
  return matches ? undefined : 'bad_signature'
}
