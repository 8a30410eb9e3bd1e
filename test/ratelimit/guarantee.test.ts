/**
 * The limiter's guarantee, checked over randomised arrival patterns under an injected clock,
 * for the memory and the Redis backend alike:
 *  - no interval of one window length ever holds more admitted units than the limit;
 *  - a request is refused only if the units admitted in the last window plus one bucket
 *    (the documented forgetting delay) leave no room for it.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import fc from 'fast-check'
import { ManualClock } from '../../src/lib/clock.js'
import type { LimitRule } from '../../src/ratelimit/policy.js'
import { bucketSize } from '../../src/ratelimit/window.js'
import type { Backend } from './backends.js'
import { memoryBackend, redisBackend } from './backends.js'

interface Arrival {
  at: number
  cost: number
}

const START = Date.UTC(2026, 5, 1, 12, 0, 0, 123)

/** Steady streams, bursts at bucket and window edges, and random gaps, with costs 1..5. */
function arrivals(windowMs: number) {
  const gap = fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 50 }),
    fc.integer({ min: 0, max: windowMs / 4 }),
    fc.constantFrom(windowMs - 1, windowMs, windowMs + 1, bucketSize(windowMs)),
  )
  return fc.array(fc.record({ gap, cost: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 5 })) }), { minLength: 1, maxLength: 150 })
}

function sumIn(admitted: Arrival[], from: number, to: number): number {
  return admitted.filter((a) => a.at >= from && a.at <= to).reduce((sum, a) => sum + a.cost, 0)
}

/** The documented counting rule: a unit counts while its bucket overlaps the last window. */
function counted(admitted: Arrival[], now: number, windowMs: number): number {
  const bucket = bucketSize(windowMs)
  return admitted.filter((a) => (Math.floor(a.at / bucket) + 1) * bucket > now - windowMs).reduce((sum, a) => sum + a.cost, 0)
}

async function checkPattern(backend: Backend, rule: LimitRule, pattern: { gap: number; cost: number }[], run: number): Promise<void> {
  const clock = new ManualClock(START)
  const limiter = backend.create(clock)
  const subject = `guarantee-${run}`
  const admitted: Arrival[] = []
  const slack = bucketSize(rule.windowMs)
  for (const { gap, cost } of pattern) {
    clock.advance(gap)
    const at = clock.now()
    const decision = await limiter.consume(subject, [rule], cost)
    if (decision.allowed) {
      admitted.push({ at, cost })
      const inWindow = sumIn(admitted, at - rule.windowMs, at)
      assert.ok(inWindow <= rule.limit, `${inWindow} units admitted within one window (limit ${rule.limit})`)
      assert.equal(decision.states[0]!.remaining, rule.limit - counted(admitted, at, rule.windowMs))
    } else {
      const recent = sumIn(admitted, at - rule.windowMs - slack, at)
      assert.ok(
        recent + cost > rule.limit,
        `refused although only ${recent} units in the window plus slack (limit ${rule.limit}, cost ${cost})`,
      )
    }
  }
}

for (const makeBackend of [memoryBackend, redisBackend]) {
  const backend = makeBackend()
  describe(`${backend.name} limiter guarantee`, () => {
    after(() => backend.close())
    for (const rule of [
      { name: 'small', limit: 5, windowMs: 1000 },
      { name: 'ten-seconds', limit: 50, windowMs: 10_000 },
      { name: 'minute', limit: 60, windowMs: 60_000 },
    ] satisfies LimitRule[]) {
      test(`${rule.limit} per ${rule.windowMs} ms over random arrivals`, async () => {
        let run = 0
        await fc.assert(
          fc.asyncProperty(arrivals(rule.windowMs), (pattern) => checkPattern(backend, rule, pattern, run++)),
          { numRuns: 60, seed: 20261127 },
        )
      })
    }
  })
}
