/**
 * App-wide authentication: every route requires an API key unless its config says
 * `public: true`. The key comes from the configured header or `Authorization: Bearer`.
 *
 * No key: 401 + `WWW-Authenticate: APIKey`. Malformed, unknown, revoked, expired, disabled or
 * rotated-past-grace key: the same 403 for all, so callers learn nothing; the true reason stays
 * on the request for the audit log. A valid key without the route's scope: 403 `insufficient_scope`. An address
 * that failed too often is refused with 429 before its key is even looked at.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode, errors } from '../errors.js'
import { visiblePrefix } from '../keys/format.js'
import type { KeyService } from '../keys/service.js'
import type { AuthFailureGuard } from '../ratelimit/auth-guard.js'
import { ceilSeconds } from '../ratelimit/limiter.js'
import type { Principal, RejectReason, Scope } from '../keys/types.js'

export interface AuthOptions {
  keys: KeyService
  /** Header carrying the key, e.g. `X-API-Key`. */
  header: string
  /** Limits failed authentications per client IP. */
  guard: AuthFailureGuard
}

/** Why authentication failed, for the audit log: a missing key or a refused one. */
export type AuthFailure = 'missing' | RejectReason

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a key (health, docs). */
    public?: boolean
    /** Scope the key needs (any one of a list); default `predict`. */
    scope?: Scope | readonly Scope[]
  }
  interface FastifyRequest {
    principal: Principal | null
    authFailure: AuthFailure | null
    /** A well-formed key that was refused: its id when it exists, and its visible prefix (audit log). */
    refusedKey: { id: string | null; prefix: string } | null
  }
}

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i

/** The presented key, or undefined when the request carries none (empty counts as none). */
export function presentedKey(request: FastifyRequest, header: string): string | undefined {
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
  app.decorateRequest('principal', null)
  app.decorateRequest('authFailure', null)
  app.decorateRequest('refusedKey', null)

  app.addHook('onRequest', async (request) => {
    const config = request.routeOptions.config
    // Unknown routes (no url) fall through to the JSON 404 without asking for a key.
    if (config.public === true || request.routeOptions.url === undefined) return
    const blockedMs = options.guard.blockedFor(request.ip)
    if (blockedMs > 0) throw tooManyFailures(blockedMs)
    const key = presentedKey(request, header)
    if (key === undefined) {
      request.authFailure = 'missing'
      throw errors.missingKey()
    }
    const pending = options.keys.verify(key)
    const result = pending instanceof Promise ? await pending : pending
    if (!result.ok) {
      request.authFailure = result.reason
      if (result.reason !== 'malformed') request.refusedKey = { id: result.keyId ?? null, prefix: visiblePrefix(key) }
      await options.guard.recordFailure(request.ip)
      throw errors.invalidKey()
    }
    request.principal = result.principal
    const scope = config.scope ?? 'predict'
    const scopes: readonly Scope[] = typeof scope === 'string' ? [scope] : scope
    if (!scopes.some((needed) => result.principal.scopes.includes(needed))) throw errors.insufficientScope(scopes.join("' or '"))
  })
}

export default fp(auth, { name: 'auth' })
