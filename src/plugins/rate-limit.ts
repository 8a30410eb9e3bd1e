/**
 * Charges every authenticated request to its key's limits and its owner's shared limits
 * (`accounting/meter.ts`), after authentication (so invalid keys never touch a key's counters)
 * and after validation and the route's own checks (so a batch's cost is known and refused work
 * costs nothing). Every authenticated answer carries `RateLimit-Policy` and `RateLimit`; a
 * refused request gets 429 with an exact `Retry-After` and consumes nothing.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode } from '../errors.js'
import { DEFAULT_COST } from '../accounting/costs.js'
import type { Meter } from '../accounting/meter.js'
import { policyHeader, stateHeader } from '../ratelimit/headers.js'
import type { Decision, LimitGroup } from '../ratelimit/limiter.js'
import { ceilSeconds } from '../ratelimit/limiter.js'

interface RateLimitOptions {
  meter: Meter
}

function setHeaders(reply: FastifyReply, groups: readonly LimitGroup[], decision: Decision): void {
  reply.header('ratelimit-policy', policyHeader(groups.flatMap((group) => group.rules)))
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
  const { meter } = options
  app.addHook('preHandler', async (request, reply) => {
    const ledger = request.ledger
    const principal = ledger.principal
    if (principal === null) return
    const units = ledger.config.cost?.(request) ?? DEFAULT_COST
    const charge = await meter.charge(principal, units)
    ledger.charge = charge
    setHeaders(reply, charge.groups, charge.decision)
    if (!charge.decision.allowed) throw refusal(charge.decision, units)
  })

  // Answers given before the check (validation errors, wrong scope) still tell the caller
  // where it stands; reading costs nothing and a failure to read changes nothing.
  app.addHook('onSend', (request, reply, payload, done) => {
    const { principal, charge } = request.ledger
    if (principal === null || charge !== null) return done(null, payload)
    meter.peek(principal).then(
      ({ decision, groups }) => {
        setHeaders(reply, groups, decision)
        done(null, payload)
      },
      () => done(null, payload),
    )
  })
}

export default fp(rateLimit, { name: 'rate-limit', dependencies: ['auth', 'ledger'] })
