/** The token budget's reserve and settle (`src/llm/budget.ts`) on the in-memory limiter. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TokenBudget } from '../../src/llm/budget.js'
import type { Principal } from '../../src/keys/types.js'
import { ManualClock } from '../../src/lib/clock.js'
import { MemoryLimiter } from '../../src/ratelimit/memory.js'
import { limitGroups } from '../../src/ratelimit/subjects.js'

const HOUR = { name: 'hour', limit: 1000, windowMs: 3_600_000 }
const caller = (owner: string) => ({ keyId: `key_${owner}`, owner }) as Principal

function budget(ownerLimit = 5000) {
  const limiter = new MemoryLimiter({ clock: new ManualClock() })
  return new TokenBudget({ limiter, keyRules: [HOUR], ownerRules: [{ ...HOUR, limit: ownerLimit }] })
}

const left = async (tokens: TokenBudget, principal: Principal) => (await tokens.peek(principal)).decision.states.map((s) => s.remaining)

test('key and owner groups, named apart from request limits; keys without an owner share no owner budget', () => {
  const tokens = budget()
  assert.deepEqual(
    tokens.groups(caller('team-a')).map((group) => [group.subject, group.rules[0]!.name]),
    [
      ['tokens:key:key_team-a', 'tokens-hour'],
      ['tokens:owner:team-a', 'owner-tokens-hour'],
    ],
  )
  assert.deepEqual(
    tokens.groups(caller('default')).map((group) => group.subject),
    ['tokens:key:key_default'],
  )
})

test('settle gives back the unused part, keeps the reservation without usage, and runs once', async () => {
  const tokens = budget()
  const principal = caller('team-a')
  const first = await tokens.reserve(principal, 300)
  assert.equal(await tokens.settle(first, 120), 120)
  assert.equal(await tokens.settle(first, 0), 120, 'a second settle changes nothing')
  assert.deepEqual(await left(tokens, principal), [880, 4880])
  const second = await tokens.reserve(principal, 200)
  assert.equal(await tokens.settle(second, null), 200)
  assert.deepEqual(await left(tokens, principal), [680, 4680])
})

test('usage above the reservation is charged while the limits admit it, and never past them', async () => {
  const tokens = budget()
  const principal = caller('team-b')
  const first = await tokens.reserve(principal, 100)
  assert.equal(await tokens.settle(first, 150), 150)
  const second = await tokens.reserve(principal, 800)
  assert.equal(await tokens.settle(second, 900), 800, 'the extra 100 would pass the limit: the charge stays at the reservation')
  assert.deepEqual(await left(tokens, principal), [50, 4050])
})

test('the owner budget refuses a key whose own budget still admits', async () => {
  const tokens = budget(1500)
  const one = caller('team-c')
  const two = { keyId: 'key_other', owner: 'team-c' } as Principal
  assert.equal((await tokens.reserve(one, 1000)).decision.allowed, true)
  const refused = await tokens.reserve(two, 600)
  assert.equal(refused.decision.allowed, false)
  assert.deepEqual(refused.decision.blockedBy, ['owner-tokens-hour'])
  assert.deepEqual(await left(tokens, two), [1000, 500], 'the refused reservation took nothing')
})

test("a key's and an owner's own tokens-… rules replace the server-wide ones, and the request limits leave them out", () => {
  const tokens = budget()
  const principal = {
    keyId: 'key_x',
    owner: 'default',
    limits: [
      { name: 'minute', limit: 60, windowMs: 60_000 },
      { name: 'tokens-day', limit: 50_000, windowMs: 86_400_000 },
    ],
    ownerLimits: [{ name: 'tokens-day', limit: 90_000, windowMs: 86_400_000 }],
  } as unknown as Principal
  assert.deepEqual(
    tokens.groups(principal).map((group) => [group.subject, group.rules.map((rule) => `${rule.name}=${rule.limit}`)]),
    [
      ['tokens:key:key_x', ['tokens-day=50000']],
      ['tokens:owner:default', ['owner-tokens-day=90000']],
    ],
  )
  const requests = limitGroups({ keyId: 'key_x', limits: principal.limits, owner: 'default', ownerLimits: principal.ownerLimits }, [])
  assert.deepEqual(
    requests.map((group) => group.rules.map((rule) => rule.name)),
    [['minute']],
  )
  const onlyTokens = limitGroups({ keyId: 'key_y', limits: [principal.limits![1]!], owner: 'default', ownerLimits: null }, [HOUR])
  assert.deepEqual(onlyTokens[0]!.rules, [HOUR], 'a key with only token limits gets the default request limits')
})
