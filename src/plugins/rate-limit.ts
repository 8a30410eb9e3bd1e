/**
 * Per-key rate limits, and the key owner's shared limits, checked after authentication (so invalid keys never touch a key's
 * counters) and after validation (so a batch's cost is known). Every authenticated answer
 * carries `RateLimit-Policy` and `RateLimit`; a refused request gets 429 with an exact
 * `Retry-After` and consumes nothing.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode } from '../errors.js'
import type { KeyService } from '../keys/service.js'
import { policyHeader, stateHeader } from '../ratelimit/headers.js'
import type { Decision, Limiter } from '../ratelimit/limiter.js'
import { ceilSeconds } from '../ratelimit/limiter.js'
import type { LimitRule } from '../ratelimit/policy.js'

export interface RateLimitOptions {
  limiter: Limiter
  /** Whose limits a request counts against: its key's and its owner's. */
  keys: Pick<KeyService, 'limitGroups'>
}

function setHeaders(reply: FastifyReply, rules: readonly LimitRule[], decision: Decision): void {
  reply.header('ratelimit-policy', policyHeader(rules))
  reply.header('ratelimit', stateHeader(decision.states))
}

function refusal(decision: Decision, cost: number): AppError {
  if (decision.exceedsLimit) {
    const rule = decision.states.find((state) => cost > state.rule.limit)!.rule
    return new AppError(ErrorCode.ValidationError, [
      {
        loc: ['body'],
        type: 'too_long',
        msg: `This request costs ${cost} units but the '${rule.name}' limit allows ${rule.limit}; split it`,
      },
    ])
  }
  const seconds = Math.max(1, ceilSeconds(decision.retryAfterMs))
  return new AppError(ErrorCode.RateLimited, `Rate limit exceeded. Try again in ${seconds} seconds.`, {
    headers: { 'retry-after': String(seconds) },
  })
}

async function rateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const { limiter, keys } = options
  app.addHook('preHandler', async (request, reply) => {
    const ledger = request.ledger
    const principal = ledger.principal
    if (principal === null) return
    const groups = keys.limitGroups(principal)
    const rules = groups.flatMap((group) => group.rules)
    const cost = ledger.config.cost?.(request) ?? 1
    const decision = await limiter.consumeAll(groups, cost)
    ledger.limits = decision
    setHeaders(reply, rules, decision)
    if (!decision.allowed) throw refusal(decision, cost)
    ledger.cost = cost
  })

  // Answers given before the check (validation errors, wrong scope) still tell the caller
  // where it stands; reading costs nothing and a failure to read changes nothing.
  app.addHook('onSend', (request, reply, payload, done) => {
    const { principal, limits } = request.ledger
    if (principal === null || limits !== null) return done(null, payload)
    const groups = keys.limitGroups(principal)
    const rules = groups.flatMap((group) => group.rules)
    Promise.resolve(limiter.peek(groups)).then(
      (decision) => {
        setHeaders(reply, rules, decision)
        done(null, payload)
      },
      () => done(null, payload),
    )
  })
}

export default fp(rateLimit, { name: 'rate-limit', dependencies: ['auth', 'ledger'] })
