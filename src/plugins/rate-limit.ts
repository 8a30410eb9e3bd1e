/**
 * Charges every authenticated request to its key's limits and its owner's shared limits
 * (`accounting/meter.ts`), after authentication (so invalid keys never touch a key's counters)
 * and after validation and the route's own checks (so a batch's cost is known and refused work
 * costs nothing). Every authenticated answer carries `RateLimit-Policy` and `RateLimit`; a
 * refused request gets 429 with an exact `Retry-After` and consumes nothing. A request whose key
 * or owner has too few credits left gets 429 `quota_exhausted`, with `Retry-After` until the next
 * refill when one comes, and consumes nothing either.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode, errors } from '../errors.js'
import { DEFAULT_COST } from '../accounting/costs.js'
import type { CreditState } from '../accounting/credits.js'
import type { Charge, Meter, QuotaRefusal } from '../accounting/meter.js'
import { quotaHeaders } from '../accounting/meter.js'
import type { Clock } from '../lib/clock.js'
import type { RequestLedger } from '../http/ledger.js'
import type { Principal } from '../keys/types.js'
import { creditPolicyItems, creditStateItems, policyHeader, stateHeader } from '../ratelimit/headers.js'
import type { Decision, LimitGroup } from '../ratelimit/limiter.js'
import { ceilSeconds } from '../ratelimit/limiter.js'

interface RateLimitOptions {
  meter: Meter
  clock: Clock
}

function setHeaders(
  reply: FastifyReply,
  groups: readonly LimitGroup[],
  decision: Decision,
  credits: readonly CreditState[],
  now: number,
): void {
  const policy = policyHeader(groups.flatMap((group) => group.rules))
  const state = stateHeader(decision.states)
  if (credits.length === 0) {
    reply.header('ratelimit-policy', policy)
    reply.header('ratelimit', state)
    return
  }
  reply.header('ratelimit-policy', [policy, ...creditPolicyItems(credits)].filter(Boolean).join(', '))
  reply.header('ratelimit', [state, ...creditStateItems(credits, now)].filter(Boolean).join(', '))
}

function quotaExhausted(quota: QuotaRefusal, now: number): AppError {
  return new AppError(ErrorCode.QuotaExhausted, 'Usage quota exhausted.', { headers: quotaHeaders(quota, now) })
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

/**
 * Charges the request, its charge pending (`ledger.chargePending`) while it is made (a Redis or
 * database round trip): a client that leaves meanwhile is given its units back and its request
 * does no work, and its record, which waits for the pending charge, shows no cost.
 */
async function chargeUnlessGone(meter: Meter, ledger: RequestLedger, principal: Principal, units: number): Promise<Charge> {
  const done = ledger.chargePending()
  try {
    const charge = await meter.charge(principal, units)
    ledger.charge = charge
    if (ledger.finished) {
      meter.refund(charge)
      throw errors.clientClosed()
    }
    return charge
  } finally {
    done()
  }
}

async function rateLimit(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const { meter, clock } = options
  app.addHook('preHandler', async (request, reply) => {
    const ledger = request.ledger
    const principal = ledger.principal
    if (principal === null) return
    const units = ledger.config.cost?.(request) ?? DEFAULT_COST
    const charge = await chargeUnlessGone(meter, ledger, principal, units)
    const now = clock.now()
    if (charge.quota !== null) {
      // The limiter's units were given back: the headers show the limits without them.
      const states = charge.decision.states.map((state) => ({ ...state, remaining: Math.min(state.rule.limit, state.remaining + units) }))
      setHeaders(reply, charge.groups, { ...charge.decision, states }, charge.credits, now)
      throw quotaExhausted(charge.quota, now)
    }
    setHeaders(reply, charge.groups, charge.decision, charge.credits, now)
    if (!charge.decision.allowed) throw refusal(charge.decision, units)
  })

  // Answers given before the check (validation errors, wrong scope) still tell the caller
  // where it stands; reading costs nothing and a failure to read changes nothing.
  app.addHook('onSend', (request, reply, payload, done) => {
    const { principal, charge } = request.ledger
    if (principal === null || charge !== null) return done(null, payload)
    meter.peek(principal).then(
      ({ decision, groups, credits }) => {
        setHeaders(reply, groups, decision, credits, clock.now())
        done(null, payload)
      },
      () => done(null, payload),
    )
  })
}

export default fp(rateLimit, { name: 'rate-limit', dependencies: ['auth', 'ledger'] })
