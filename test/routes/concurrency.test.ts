/**
 * Concurrency caps (issue 19): at most N requests of a key, and of all keys of its owner, in
 * flight at once; beyond, 429 concurrency_limited at no cost; in memory and on Redis across two
 * instances, with leases that expire when an instance dies.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { Redis } from 'ioredis'
import { ManualClock } from '../../src/lib/clock.js'
import { RedisConcurrencyGate } from '../../src/ratelimit/concurrency-redis.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import type { GatedModel } from '../fixtures/gated-model.js'
import { gatedModel } from '../fixtures/gated-model.js'
import { buildTestApp, builtinModel, createKey, tempDir } from '../helper.js'
import { freshPostgres, TEST_DATABASE_URL } from '../postgres.js'
import { REDIS_URL } from '../ratelimit/backends.js'

const predict = (app: FastifyInstance, key: string, text = 'fine') =>
  app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': key }, payload: { text } })

/**
 * Waits until `n` requests are at the model: in its call (held by the gate) or queued for one
 * (the model takes one call at a time; `maxBatch: 1` makes each request its own call).
 */
async function atModel(app: FastifyInstance, gate: GatedModel, callsBefore: number, n: number): Promise<void> {
  const reached = () => gate.calls - callsBefore + app.services.models.get('sentiment')!.queueDepth()
  for (let i = 0; i < 500 && reached() < n; i++) await delay(10)
  assert.equal(reached(), n, 'requests reached the model')
}

describe('concurrency caps, one instance', () => {
  let app: FastifyInstance
  let gate: GatedModel

  before(async () => {
    gate = gatedModel(await builtinModel())
    app = await buildTestApp({ models: [gate.classifier], config: { maxBatch: 1 } })
  })
  after(async () => {
    gate.open()
    await app.close()
  })

  test('a key with --concurrency 2: the third request in flight gets 429 concurrency_limited, costs nothing, and is audited', async () => {
    const client = await createKey(app, { limits: parseRules(['100/1m']) })
    await app.services.keys.update(client.id, { concurrency: 2 })
    gate.holdAfter(0)
    const calls = gate.calls
    const first = [predict(app, client.key, 'one'), predict(app, client.key, 'two')]
    await atModel(app, gate, calls, 2)
    const refused = await predict(app, client.key, 'three')
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.json().code, 'concurrency_limited')
    assert.match(refused.json().detail, /in flight for this key/)
    assert.equal(refused.headers['retry-after'], '1')
    assert.match(String(refused.headers['ratelimit-policy']), /"concurrency";q=2;qu="concurrent-requests"/)
    assert.match(String(refused.headers.ratelimit), /"concurrency";r=0/)
    // The two in flight were charged; the refused one was not (100 - 2).
    assert.match(String(refused.headers.ratelimit), /r=98;/)
    gate.open()
    const answers: LightMyRequestResponse[] = await Promise.all(first)
    assert.deepEqual(
      answers.map((a) => a.statusCode),
      [200, 200],
    )
    assert.match(String(answers[0]!.headers.ratelimit), /"concurrency";r=\d/)
    // Their leases are back: two more at once are admitted.
    const again = await Promise.all([predict(app, client.key), predict(app, client.key)])
    assert.deepEqual(
      again.map((a) => a.statusCode),
      [200, 200],
    )
    await app.services.audit!.flush()
    const rows = await app.services.db.kysely
      .selectFrom('audit_log')
      .select(['outcome', 'cost'])
      .where('key_id', '=', client.id)
      .where('outcome', '=', 'concurrency_limited')
      .execute()
    assert.deepEqual(rows, [{ outcome: 'concurrency_limited', cost: 0 }])
  })

  test('leases are given back after errors: a cap of 1 and refused input, one after the other', async () => {
    const client = await createKey(app, { limits: parseRules(['100/1m']) })
    await app.services.keys.update(client.id, { concurrency: 1 })
    for (const payload of [{}, { text: '' }, { text: 5 }, { nope: 1 }]) {
      const bad = await app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': client.key }, payload })
      assert.ok([400, 422].includes(bad.statusCode), `${bad.statusCode} ${bad.body}`)
    }
    const forbidden = await app.inject({ method: 'GET', url: '/v1/keys', headers: { 'x-api-key': client.key } })
    assert.equal(forbidden.statusCode, 403)
    assert.equal((await predict(app, client.key)).statusCode, 200)
  })

  test('a client that goes away gives its lease back at once, while its work is still at the model', async () => {
    const client = await createKey(app, { limits: parseRules(['100/1m']) })
    await app.services.keys.update(client.id, { concurrency: 1 })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    gate.holdAfter(0)
    const calls = gate.calls
    const abort = new AbortController()
    const gone = fetch(`http://127.0.0.1:${port}/predict?text=leaving`, {
      method: 'POST',
      headers: { 'x-api-key': client.key },
      signal: abort.signal,
    }).catch(() => 'aborted')
    await atModel(app, gate, calls, 1)
    abort.abort()
    assert.equal(await gone, 'aborted')
    // The server sees the socket close a moment later; the aborted text is still held at the model.
    await delay(200)
    const next = predictOverHttp(port, client.key)
    await atModel(app, gate, calls, 2)
    gate.open()
    assert.equal(await next, 200)
  })

  test('an owner cap counts all its keys together; the key cap and the owner cap both apply', async () => {
    const a = await createKey(app, { owner: 'team-cc', limits: parseRules(['100/1m']) })
    const b = await createKey(app, { owner: 'team-cc', limits: parseRules(['100/1m']) })
    await app.services.keys.setOwnerConcurrency('team-cc', 1)
    gate.holdAfter(0)
    const calls = gate.calls
    const held = predict(app, a.key)
    await atModel(app, gate, calls, 1)
    const refused = await predict(app, b.key)
    assert.equal(refused.statusCode, 429)
    assert.match(refused.json().detail, /in flight for this owner/)
    assert.match(String(refused.headers['ratelimit-policy']), /"owner-concurrency";q=1;qu="concurrent-requests"/)
    gate.open()
    assert.equal((await held).statusCode, 200)
    assert.equal((await predict(app, b.key)).statusCode, 200)
  })

  test('bad caps are refused with 422 over HTTP and shown on the key and owner', async () => {
    const admin = await createKey(app, { scopes: ['admin'] })
    const send = (method: 'POST' | 'PATCH', url: string, payload: object) =>
      app.inject({ method, url, headers: { 'x-api-key': admin.key }, payload })
    for (const concurrency of [0, -1, 1.5, '2', 100_001, 1e300])
      assert.equal((await send('POST', '/v1/keys', { name: 'x', owner: 'o', concurrency })).statusCode, 422, String(concurrency))
    const created = await send('POST', '/v1/keys', { name: 'capped', owner: 'team-cd', concurrency: 3 })
    assert.equal(created.statusCode, 201)
    assert.equal(created.json().concurrency, 3)
    const cleared = await send('PATCH', `/v1/keys/${created.json().id}`, { concurrency: null })
    assert.equal(cleared.json().concurrency, null)
    const owner = await send('PATCH', '/v1/owners/team-cd', { concurrency: 5 })
    assert.equal(owner.statusCode, 200)
    assert.equal(owner.json().concurrency, 5)
    assert.equal((await send('PATCH', '/v1/owners/team-cd', { concurrency: 0 })).statusCode, 422)
  })
})

/** A real HTTP request (not inject), for the tests that need a socket. */
async function predictOverHttp(port: number, key: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/predict?text=next`, { method: 'POST', headers: { 'x-api-key': key } })
  await response.arrayBuffer()
  return response.status
}

describe('concurrency caps on Redis, two instances', () => {
  let a: FastifyInstance
  let b: FastifyInstance
  let gate: GatedModel

  before(async () => {
    gate = gatedModel(await builtinModel())
    const shared = { dataDir: tempDir(), databaseUrl: TEST_DATABASE_URL ? await freshPostgres() : '', redisUrl: REDIS_URL, maxBatch: 1 }
    a = await buildTestApp({ models: [gate.classifier], config: shared })
    b = await buildTestApp({ models: [gate.classifier], config: shared })
  })
  after(async () => {
    gate.open()
    // One after the other: two closings on one SQLite file would meet its write lock.
    await a.close()
    await b.close()
  })

  test('a cap of 2 holds across instances: two in flight on A, the third on B is refused; freed, B admits', async () => {
    const client = await createKey(a, { limits: parseRules(['100/1m']) })
    await a.services.keys.update(client.id, { concurrency: 2 })
    gate.holdAfter(0)
    const calls = gate.calls
    const onA = [predict(a, client.key), predict(a, client.key)]
    await atModel(a, gate, calls, 2)
    const onB = await predict(b, client.key)
    assert.equal(onB.statusCode, 429)
    assert.equal(onB.json().code, 'concurrency_limited')
    gate.open()
    assert.deepEqual(
      (await Promise.all(onA)).map((r) => r.statusCode),
      [200, 200],
    )
    assert.equal((await predict(b, client.key)).statusCode, 200)
  })

  test('the leases of an instance that died stop counting when they expire', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1))
    const redis = new Redis(REDIS_URL)
    try {
      const dead = new RedisConcurrencyGate({ redis, leaseMs: 60_000, clock })
      const alive = new RedisConcurrencyGate({ redis, leaseMs: 60_000, clock })
      const caps = [{ subject: `key:test_${process.pid}_${Date.now()}`, limit: 1 }]
      const taken = await dead.acquire(caps)
      assert.equal(taken.ok, true)
      // The instance dies: its lease is never given back.
      assert.equal((await alive.acquire(caps)).ok, false)
      clock.advance(60_001)
      const after = await alive.acquire(caps)
      assert.equal(after.ok, true)
      if (after.ok) after.release()
    } finally {
      redis.disconnect()
    }
  })
})
