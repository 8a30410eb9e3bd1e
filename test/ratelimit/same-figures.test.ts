/**
 * The Redis script and the in-memory limiter are two implementations of one arithmetic
 * (`window.ts`): over random sequences of charges, refunds and clock moves they must give the
 * same decisions — admitted or not, remaining units, resets, Retry-After — figure for figure.
 */
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import fc from 'fast-check'
import { ManualClock } from '../../src/lib/clock.js'
import type { Decision, LimitGroup } from '../../src/ratelimit/limiter.js'
import type { LimitRule } from '../../src/ratelimit/policy.js'
import { bucketSize } from '../../src/ratelimit/window.js'
import { memoryBackend, redisBackend } from './backends.js'

const START = Date.UTC(2026, 5, 1, 12, 0, 0, 123)
const tenSeconds: LimitRule = { name: 'burst', limit: 6, windowMs: 10_000 }
const minute: LimitRule = { name: 'minute', limit: 20, windowMs: 60_000 }

type Step = { kind: 'wait'; ms: number } | { kind: 'charge'; cost: number } | { kind: 'refund'; which: number; cost: number }

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('wait' as const),
    ms: fc.oneof(
      fc.integer({ min: 0, max: 400 }),
      fc.constantFrom(bucketSize(10_000), 10_000, 60_000, 61_000),
      fc.integer({ min: 0, max: 30_000 }),
    ),
  }),
  fc.record({ kind: fc.constant('charge' as const), cost: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 8 })) }),
  fc.record({ kind: fc.constant('refund' as const), which: fc.nat(), cost: fc.integer({ min: 1, max: 4 }) }),
)

/** What a caller sees of a decision (`at` is the clock either way). */
const figures = (decision: Decision) => ({
  allowed: decision.allowed,
  remaining: decision.states.map((state) => state.remaining),
  reset: decision.states.map((state) => state.resetMs),
  retryAfterMs: decision.retryAfterMs,
  blockedBy: decision.blockedBy,
  exceedsLimit: decision.exceedsLimit,
})

const memory = memoryBackend()
const redis = redisBackend()
after(() => redis.close())

test('Redis and memory give the same figures over charges, refunds and time', async () => {
  let run = 0
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
      const clock = new ManualClock(START)
      const limiters = [memory.create(clock), redis.create(clock)]
      const groups: LimitGroup[] = [{ subject: `same-${process.pid}-${run++}`, rules: [tenSeconds, minute] }]
      const admitted: [Decision, Decision][] = []
      for (const s of steps) {
        if (s.kind === 'wait') clock.advance(s.ms)
        else if (s.kind === 'refund' && admitted.length > 0) {
          const [a, b] = admitted[s.which % admitted.length]!
          await limiters[0]!.refund(groups, s.cost, a)
          await limiters[1]!.refund(groups, s.cost, b)
        } else if (s.kind === 'charge') {
          const [a, b] = await Promise.all(limiters.map(async (limiter) => limiter.consumeAll(groups, s.cost)))
          assert.deepEqual(figures(b!), figures(a!))
          if (a!.allowed) admitted.push([a!, b!])
        }
      }
      const [a, b] = await Promise.all(limiters.map(async (limiter) => limiter.consumeAll(groups, 0)))
      assert.deepEqual(figures(b!), figures(a!))
    }),
    { numRuns: 150 },
  )
})
