import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { generateKey } from '../../src/keys/format.js'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { REDIS_URL } from '../ratelimit/backends.js'
import { buildTestApp, createKey } from '../helper.js'

// On a whole minute plus 400 ms: the 60 s window's 1 s buckets are easy to reason about.
const START = Date.UTC(2026, 5, 1, 12, 0, 0) + 400

function predict(app: FastifyInstance, key: string, extra: { remoteAddress?: string; headers?: Record<string, string> } = {}) {
  return app.inject({
    method: 'POST',
    url: '/predict?text=fine',
    headers: { 'x-api-key': key, ...extra.headers },
    ...(extra.remoteAddress ? { remoteAddress: extra.remoteAddress } : {}),
  })
}

describe('per-key limits (memory)', () => {
  const clock = new ManualClock(START)
  let app: FastifyInstance
  before(async () => {
    app = await buildTestApp({ clock })
  })
  after(() => app.close())

  test('the default 60 per minute: headers on every answer, then 429 with an exact Retry-After', async () => {
    const { key } = await createKey(app)
    for (let i = 1; i <= 60; i++) {
      const response = await predict(app, key)
      assert.equal(response.statusCode, 200)
      assert.equal(response.headers['ratelimit-policy'], '"minute";q=60;w=60')
      // All units sit in the bucket ending 600 ms after START; they leave 60 s after that.
      assert.equal(response.headers['ratelimit'], `"minute";r=${60 - i};t=61`)
    }
    clock.advance(2000)
    const refused = await predict(app, key)
    assert.equal(refused.statusCode, 429)
    assert.deepEqual(refused.json(), {
      detail: 'Rate limit exceeded. Try again in 59 seconds.',
      code: 'rate_limited',
      request_id: refused.headers['x-request-id'],
    })
    assert.equal(refused.headers['retry-after'], '59')
    assert.equal(refused.headers['ratelimit'], '"minute";r=0;t=59')
    clock.advance(58_599)
    assert.equal((await predict(app, key)).statusCode, 429)
    clock.advance(1)
    assert.equal((await predict(app, key)).statusCode, 200)
  })

  test('200 concurrent requests against 50 per 10 s admit exactly 50', async () => {
    const { key, id } = await createKey(app)
    await app.services.keys.update(id, { limits: parseRules(['50/10s']) })
    const answers = await Promise.all(Array.from({ length: 200 }, () => predict(app, key)))
    assert.equal(answers.filter((r) => r.statusCode === 200).length, 50)
    assert.equal(answers.filter((r) => r.statusCode === 429).length, 150)
  })

  test('a request refused by the day limit leaves the minute limit untouched', async () => {
    const { key, id } = await createKey(app)
    await app.services.keys.update(id, { limits: parseRules(['minute=10/1m', 'day=3/1d']) })
    for (let i = 0; i < 3; i++) assert.equal((await predict(app, key)).statusCode, 200)
    const refused = await predict(app, key)
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.headers['ratelimit-policy'], '"minute";q=10;w=60, "day";q=3;w=86400')
    assert.match(String(refused.headers['ratelimit']), /^"minute";r=7;t=\d+, "day";r=0;t=\d+$/)
    const again = await predict(app, key)
    assert.match(String(again.headers['ratelimit']), /^"minute";r=7;/)
  })

  test('invalid keys never touch a key counter; answers refused before the check carry the headers and cost nothing', async () => {
    const { key } = await createKey(app)
    for (let i = 0; i < 5; i++) assert.equal((await predict(app, generateKey())).statusCode, 403)
    const malformed: [unknown, number][] = [
      [{ text: 5 }, 422],
      [{ text: '  ' }, 400],
      [{}, 422],
      [{ texts: ['ok', ''] }, 422],
      [{ text: 'a', texts: ['b'] }, 422],
    ]
    for (const [payload, status] of malformed) {
      const invalid = await app.inject({
        method: 'POST',
        url: '/predict',
        headers: { 'x-api-key': key },
        payload: payload as Record<string, unknown>,
      })
      assert.equal(invalid.statusCode, status, invalid.body)
      assert.equal(invalid.headers['ratelimit'], '"minute";r=60;t=0', JSON.stringify(payload))
    }
    const ok = await predict(app, key)
    assert.match(String(ok.headers['ratelimit']), /^"minute";r=59;/)
  })

  test('a key changed to its own limit gets it at once', async () => {
    const { key, id } = await createKey(app)
    assert.match(String((await predict(app, key)).headers['ratelimit-policy']), /"minute";q=60/)
    await app.services.keys.update(id, { limits: parseRules(['burst=2/5s']) })
    assert.equal((await predict(app, key)).headers['ratelimit-policy'], '"burst";q=2;w=5')
  })
})

describe('brute-force guard', () => {
  const clock = new ManualClock(START)
  let app: FastifyInstance
  let key: string
  before(async () => {
    app = await buildTestApp({ clock, config: { authFailLimit: { name: 'auth', limit: 3, windowMs: 60_000 } } })
    key = (await createKey(app)).key
  })
  after(() => app.close())

  test('an address over its failures is refused with 429, even with a valid key, until the window passes', async () => {
    const attacker = '203.0.113.7'
    for (let i = 0; i < 3; i++) assert.equal((await predict(app, generateKey(), { remoteAddress: attacker })).statusCode, 403)
    const blocked = await predict(app, key, { remoteAddress: attacker })
    assert.equal(blocked.statusCode, 429)
    assert.equal(blocked.json().code, 'auth_rate_limited')
    assert.equal(blocked.headers['retry-after'], '61')
    assert.equal((await predict(app, key, { remoteAddress: '198.51.100.2' })).statusCode, 200)
    clock.advance(60_600)
    assert.equal((await predict(app, key, { remoteAddress: attacker })).statusCode, 200)
  })

  test('X-Forwarded-For is ignored without --trust-proxy, so nobody can lock out another address', async () => {
    const victim = '198.51.100.9'
    for (let i = 0; i < 5; i++) await predict(app, generateKey(), { remoteAddress: '203.0.113.50', headers: { 'x-forwarded-for': victim } })
    assert.equal((await predict(app, key, { remoteAddress: victim })).statusCode, 200)
    assert.equal((await predict(app, key, { remoteAddress: '203.0.113.50' })).statusCode, 429)
  })

  test('behind a trusted proxy the client address comes from X-Forwarded-For', async () => {
    const proxied = await buildTestApp({
      clock,
      config: { trustProxy: ['10.0.0.0/8'], authFailLimit: { name: 'auth', limit: 2, windowMs: 60_000 } },
    })
    const { key: good } = await createKey(proxied)
    const via = (client: string, k: string) => predict(proxied, k, { remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': client } })
    await via('192.0.2.1', generateKey())
    await via('192.0.2.1', generateKey())
    assert.equal((await via('192.0.2.1', good)).statusCode, 429)
    assert.equal((await via('192.0.2.2', good)).statusCode, 200)
    await proxied.close()
  })
})

describe('per-key limits on Redis', () => {
  let app: FastifyInstance
  before(async () => {
    app = await buildTestApp({ config: { redisUrl: REDIS_URL } })
  })
  after(() => app.close())

  test('200 concurrent requests against 50 per 10 s admit exactly 50', async () => {
    const { key, id } = await createKey(app)
    await app.services.keys.update(id, { limits: parseRules(['50/10s']) })
    const answers = await Promise.all(Array.from({ length: 200 }, () => predict(app, key)))
    assert.equal(answers.filter((r) => r.statusCode === 200).length, 50)
    assert.equal(answers.filter((r) => r.statusCode === 429).length, 150)
    assert.match(String(answers.find((r) => r.statusCode === 429)!.headers['retry-after']), /^(9|10|11)$/)
  })
})
