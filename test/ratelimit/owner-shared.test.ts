/**
 * Several subjects in one decision (a key and its owner), identical for the memory and Redis
 * backends: the owner's budget is shared exactly by its keys, a refusal by either subject
 * charges neither, and peek reads without charging.
 */
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { ManualClock } from '../../src/lib/clock.js'
import type { LimitGroup, Limiter } from '../../src/ratelimit/limiter.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { limitGroups } from '../../src/ratelimit/subjects.js'
import { memoryBackend, redisBackend } from './backends.js'

const START = Date.UTC(2026, 5, 1, 0, 0, 0) + 250
const keyLimits = parseRules(['10/1m'])
const ownerLimits = parseRules(['7/1m'])

for (const makeBackend of [memoryBackend, redisBackend]) {
  const backend = makeBackend()
  describe(`${backend.name} limiter: owner-shared limits`, () => {
    after(() => backend.close())
    let n = 0
    const fresh = () => {
      const clock = new ManualClock(START)
      const owner = `owner-${n++}`
      const groupsOf = (keyId: string): LimitGroup[] =>
        limitGroups({ keyId: `${owner}-${keyId}`, limits: keyLimits, owner, ownerLimits }, [])
      return { clock, limiter: backend.create(clock), groupsOf }
    }
    const admitted = async (limiter: Limiter, groups: LimitGroup[], cost = 1) => (await limiter.consumeAll(groups, cost)).allowed

    test('two keys of one owner share its budget exactly, whatever the interleaving', async () => {
      const { limiter, groupsOf } = fresh()
      const a = groupsOf('a')
      const b = groupsOf('b')
      const results: boolean[] = []
      for (const groups of [a, b, a, a, b, b, a, b, a, b]) results.push(await admitted(limiter, groups))
      assert.deepEqual(results, [true, true, true, true, true, true, true, false, false, false])
      const state = await limiter.peek(a)
      assert.deepEqual(
        state.states.map((s) => [s.rule.name, s.remaining]),
        [
          ['minute', 6],
          ['owner-minute', 0],
        ],
      )
      assert.deepEqual(
        (await limiter.peek(b)).states.map((s) => s.remaining),
        [7, 0],
      )
    })

    test('concurrent calls of two keys never admit more than the owner allows', async () => {
      const { limiter, groupsOf } = fresh()
      const calls = Array.from({ length: 40 }, (_, i) => Promise.resolve(limiter.consumeAll(groupsOf(i % 2 === 0 ? 'a' : 'b'), 1)))
      const decisions = await Promise.all(calls)
      assert.equal(decisions.filter((d) => d.allowed).length, 7)
    })

    test('a refusal by the owner charges the key nothing, and one by the key charges the owner nothing', async () => {
      const { limiter, groupsOf } = fresh()
      const a = groupsOf('a')
      assert.equal(await admitted(limiter, a, 7), true)
      const refused = await limiter.consumeAll(a, 1)
      assert.deepEqual([refused.allowed, refused.blockedBy], [false, ['owner-minute']])
      assert.ok(refused.retryAfterMs > 0)
      assert.equal((await limiter.peek(a)).states[0]!.remaining, 3)

      const other = fresh()
      const key = other.groupsOf('k')
      const tight = [{ ...key[0]!, rules: parseRules(['2/1m']) }, key[1]!]
      assert.equal(await admitted(other.limiter, tight, 2), true)
      assert.equal(await admitted(other.limiter, tight, 1), false)
      assert.equal((await other.limiter.peek(tight)).states[1]!.remaining, 5)
    })

    test('peek charges nothing, however often', async () => {
      const { limiter, groupsOf } = fresh()
      const a = groupsOf('a')
      await limiter.consumeAll(a, 2)
      for (let i = 0; i < 10; i++)
        assert.deepEqual(
          (await limiter.peek(a)).states.map((s) => s.remaining),
          [8, 5],
        )
    })

    test('the owner budget comes back when the window moves on', async () => {
      const { clock, limiter, groupsOf } = fresh()
      assert.equal(await admitted(limiter, groupsOf('a'), 7), true)
      assert.equal(await admitted(limiter, groupsOf('b')), false)
      clock.advance(61_000)
      assert.equal(await admitted(limiter, groupsOf('b'), 7), true)
    })
  })
}
