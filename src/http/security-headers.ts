/**
 * Headers on every answer that stop browsers from misusing it: no MIME sniffing, no referrer,
 * no framing (clickjacking). Set by `plugins/security-headers.ts` on answers Fastify sends, and
 * written directly on answers given before any hook runs (`client-error.ts`,
 * `framework-errors.ts`).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
}
