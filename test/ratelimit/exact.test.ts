/**
 * Exact figures under an injected clock, identical for the memory and Redis backends:
 * remaining units, the time until a unit returns, Retry-After for costs above 1, and
 * all-or-nothing charging across several limits.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { ManualClock } from '../../src/lib/clock.js'
import type { LimitRule } from '../../src/ratelimit/policy.js'
import { bucketSize } from '../../src/ratelimit/window.js'
import { memoryBackend, redisBackend } from './backends.js'

// A start on a bucket boundary of every window used here, plus 250 ms.
const START = Date.UTC(2026, 5, 1, 0, 0, 0) + 250
const minute: LimitRule = { name: 'minute', limit: 10, windowMs: 60_000 }
const day: LimitRule = { name: 'day', limit: 3, windowMs: 86_400_000 }

for (const makeBackend of [memoryBackend, redisBackend]) {
  const backend = makeBackend()
  describe(`${backend.name} limiter figures`, () => {
    after(() => backend.close())
    let n = 0
    const fresh = () => {
      const clock = new ManualClock(START)
      return { clock, limiter: backend.create(clock), subject: `exact-${n++}` }
    }

    test('remaining counts down and the reset is the oldest bucket leaving the window', async () => {
      const { clock, limiter, subject } = fresh()
      const first = await limiter.consume(subject, [minute], 1)
      assert.equal(first.allowed, true)
      assert.equal(first.states[0]!.remaining, 9)
      // The unit sits in the bucket [START - 250, START + 750); it leaves at that bucket's end + 60 s.
      assert.equal(first.states[0]!.resetMs, 60_000 + 750)
      clock.advance(5000)
      const second = await limiter.consume(subject, [minute], 4)
      assert.equal(second.states[0]!.remaining, 5)
      assert.equal(second.states[0]!.resetMs, 60_000 + 750 - 5000)
    })

    test('Retry-After is exact for a cost above 1', async () => {
      const { clock, limiter, subject } = fresh()
      await limiter.consume(subject, [minute], 4) // bucket 0
      clock.advance(10_000)
      await limiter.consume(subject, [minute], 5) // bucket 10 s later
      clock.advance(1000)
      const refused = await limiter.consume(subject, [minute], 3)
      assert.equal(refused.allowed, false)
      assert.deepEqual(refused.blockedBy, ['minute'])
      // 9 used; 3 more fit once the first 4 leave: at START - 250 + 1000 + 60 000.
      assert.equal(refused.retryAfterMs, 60_000 + 750 - 11_000)
      assert.equal(refused.states[0]!.remaining, 1)
      clock.advance(refused.retryAfterMs - 1)
      assert.equal((await limiter.consume(subject, [minute], 3)).allowed, false)
      clock.advance(1)
      assert.equal((await limiter.consume(subject, [minute], 3)).allowed, true)
    })

    test('a request refused by one limit consumes none of the others', async () => {
      const { limiter, subject } = fresh()
      for (let i = 0; i < 3; i++) assert.equal((await limiter.consume(subject, [minute, day], 1)).allowed, true)
      const refused = await limiter.consume(subject, [minute, day], 1)
      assert.equal(refused.allowed, false)
      assert.deepEqual(refused.blockedBy, ['day'])
      assert.deepEqual(
        refused.states.map((s) => s.remaining),
        [7, 0],
      )
      const again = await limiter.consume(subject, [minute, day], 0)
      assert.deepEqual(
        again.states.map((s) => s.remaining),
        [7, 0],
      )
      // The day limit's units leave one bucket (24 min) after the day is over.
      assert.equal(refused.retryAfterMs, 86_400_000 + bucketSize(86_400_000) - 250)
    })

    test('a cost above the whole limit is flagged as impossible', async () => {
      const { limiter, subject } = fresh()
      const decision = await limiter.consume(subject, [minute], 11)
      assert.equal(decision.allowed, false)
      assert.equal(decision.exceedsLimit, true)
      assert.equal(decision.states[0]!.remaining, 10)
    })

    test('cost 0 only reads', async () => {
      const { limiter, subject } = fresh()
      await limiter.consume(subject, [minute], 2)
      for (let i = 0; i < 5; i++) assert.equal((await limiter.consume(subject, [minute], 0)).states[0]!.remaining, 8)
    })

    test('idle windows empty themselves', async () => {
      const { clock, limiter, subject } = fresh()
      await limiter.consume(subject, [minute], 10)
      clock.advance(61_000)
      const decision = await limiter.consume(subject, [minute], 0)
      assert.equal(decision.states[0]!.remaining, 10)
      assert.equal(decision.states[0]!.resetMs, 0)
    })

    test('a refund gives back units to the bucket they were charged to', async () => {
      const { clock, limiter, subject } = fresh()
      const groups = [{ subject, rules: [minute, day] }]
      const first = await limiter.consumeAll(groups, 2)
      clock.advance(10_000)
      const second = await limiter.consumeAll(groups, 1)
      assert.deepEqual(
        second.states.map((s) => s.remaining),
        [7, 0],
      )
      await limiter.refund(groups, 2, first)
      const after = await limiter.consumeAll(groups, 0)
      assert.deepEqual(
        after.states.map((s) => s.remaining),
        [9, 2],
      )
      // The oldest counted unit is now the second charge's, in the bucket that holds now.
      assert.equal(after.states[0]!.resetMs, 60_000 + 750)
    })

    test('after every unit is refunded, the next charge is the oldest, and a cost above the limit is refused at once', async () => {
      const { clock, limiter, subject } = fresh()
      const groups = [{ subject, rules: [minute] }]
      const first = await limiter.consumeAll(groups, 2)
      await limiter.refund(groups, 2, first)
      clock.advance(10_000)
      const next = await limiter.consumeAll(groups, 1)
      assert.equal(next.states[0]!.remaining, 9)
      assert.equal(next.states[0]!.resetMs, 60_000 + 750)
      await limiter.refund(groups, 1, next)
      const tooLarge = await limiter.consumeAll(groups, 11)
      assert.equal(tooLarge.allowed, false)
      assert.equal(tooLarge.exceedsLimit, true)
      assert.equal(tooLarge.states[0]!.remaining, 10)
      assert.equal(tooLarge.states[0]!.resetMs, 0)
    })

    test('a refund of a charge whose bucket left the window changes nothing', async () => {
      const { clock, limiter, subject } = fresh()
      const groups = [{ subject, rules: [minute] }]
      const old = await limiter.consumeAll(groups, 4)
      clock.advance(61_000)
      await limiter.consumeAll(groups, 3)
      await limiter.refund(groups, 4, old)
      assert.equal((await limiter.consumeAll(groups, 0)).states[0]!.remaining, 7)
    })

    test('a refused decision has nothing to give back', async () => {
      const { limiter, subject } = fresh()
      const groups = [{ subject, rules: [minute] }]
      await limiter.consumeAll(groups, 9)
      const refused = await limiter.consumeAll(groups, 2)
      assert.equal(refused.allowed, false)
      await limiter.refund(groups, 2, refused)
      assert.equal((await limiter.consumeAll(groups, 0)).states[0]!.remaining, 1)
    })
  })
}
