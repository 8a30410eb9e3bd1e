/**
 * App-wide authentication: every route requires an API key unless its config says
 * `public: true`. The key comes from the configured header or `Authorization: Bearer`.
 *
 * No key: 401 + `WWW-Authenticate: APIKey`. Malformed, unknown, revoked, expired, disabled or
 * rotated-past-grace key: the same 403 for all, so callers learn nothing; the true reason stays
 * in the request's ledger for the audit log. A valid key used from an address outside its or its
 * owner's IP allow-list gets that same 403 (audited as `ip_not_allowed`). A valid key without the route's scope: 403
 * `insufficient_scope`. Requests without a key and refused keys both count as failed
 * authentications of their address, and an address that failed too often is refused with 429
 * before its key is even looked at.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode, errors } from '../errors.js'
import { visiblePrefix } from '../keys/format.js'
import { ipAllowed } from '../keys/ip-allow.js'
import type { KeyService } from '../keys/service.js'
import type { AuthFailureGuard } from '../ratelimit/auth-guard.js'
import { ceilSeconds } from '../ratelimit/limiter.js'

interface AuthOptions {
  keys: KeyService
  /** Header carrying the key, e.g. `X-API-Key`. */
  header: string
  /** Limits failed authentications per client IP. */
  guard: AuthFailureGuard
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

/** The presented key, or undefined when the request carries none (empty counts as none). */
function presentedKey(request: FastifyRequest, header: string): string | undefined {
  const value = request.headers[header]
  if (typeof value === 'string' && value.trim() !== '') return value.trim()
  const authorization = request.headers.authorization
  if (typeof authorization !== 'string') return undefined
  return BEARER.exec(authorization)?.[1]
}

function tooManyFailures(blockedMs: number): AppError {
  const seconds = Math.max(1, ceilSeconds(blockedMs))
  return new AppError(ErrorCode.AuthRateLimited, `Too many failed authentications from this address. Try again in ${seconds} seconds.`, {
    headers: { 'retry-after': String(seconds) },
  })
}

async function auth(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const header = options.header.toLowerCase()

  app.addHook('onRequest', async (request) => {
    const ledger = request.ledger
    // Public routes, and unknown URLs (answered with the JSON 404), ask for no key.
    if (!ledger.needsKey) return
    // Read once, when the request arrived (with --trust-proxy each read of request.ip walks the
    // forwarded chain again); an address the socket no longer knew matches no allow list.
    const ip = ledger.ip ?? 'unknown'
    const blockedMs = options.guard.blockedFor(ip)
    if (blockedMs > 0) throw tooManyFailures(blockedMs)
    const key = presentedKey(request, header)
    if (key === undefined) {
      ledger.authFailure = 'missing'
      // A request without a key counts as a failure too, so that keyless floods are bounded.
      await options.guard.recordFailure(ip)
      throw errors.missingKey()
    }
    const pending = options.keys.verify(key)
    const result = pending instanceof Promise ? await pending : pending
    if (!result.ok) {
      ledger.authFailure = result.reason
      if (result.reason !== 'malformed') ledger.refusedKey = { id: result.keyId ?? null, prefix: visiblePrefix(key) }
      await options.guard.recordFailure(ip)
      throw errors.invalidKey()
    }
    const { principal } = result
    if (!ipAllowed(principal.allowedIps, ip) || !ipAllowed(principal.ownerAllowedIps, ip)) {
      // The same 403 as any refused key: the caller learns nothing about the key or its list.
      ledger.authFailure = 'ip_not_allowed'
      ledger.refusedKey = { id: principal.keyId, prefix: principal.prefix }
      await options.guard.recordFailure(ip)
      throw errors.invalidKey()
    }
    ledger.principal = principal
    const scopes = ledger.scopes
    if (!scopes.some((needed) => result.principal.scopes.includes(needed))) throw errors.insufficientScope(scopes.join("' or '"))
  })
}

export default fp(auth, { name: 'auth', dependencies: ['ledger'] })
