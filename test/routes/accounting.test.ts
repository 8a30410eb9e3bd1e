/**
 * The accounting model (src/accounting/costs.ts, docs/rate-limits.md), rule by rule, on the
 * in-memory limiter and on Redis: what is charged, that refused work costs nothing, and that
 * the usage a key sees adds up to exactly the units its limits were charged.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseRules } from '../../src/ratelimit/policy.js'
import { gatedModel, type GatedModel } from '../fixtures/gated-model.js'
import { buildTestApp, builtinModel, createKey, redisReady } from '../helper.js'
import { REDIS_URL } from '../ratelimit/backends.js'

const LIMIT = 1000

/** Units left under the key's limit, read from a free request's RateLimit header. */
async function remaining(app: FastifyInstance, key: string): Promise<number> {
  const response = await app.inject({ method: 'GET', url: '/v1/jobs?limit=1', headers: { 'x-api-key': key } })
  const left = /r=(\d+)/.exec(String(response.headers.ratelimit))
  assert.ok(left, `no RateLimit header: ${JSON.stringify(response.headers)}`)
  return Number(left[1])
}

/** Total cost and requests of a key in `GET /v1/usage` (read by an admin key), once its audit records are written. */
async function usage(app: FastifyInstance, keyId: string): Promise<{ cost: number; requests: number }> {
  await app.services.audit!.flush()
  const admin = await createKey(app, { scopes: ['admin'] })
  const answer = await app.inject({ method: 'GET', url: `/v1/usage?bucket=day&key=${keyId}`, headers: { 'x-api-key': admin.key } })
  assert.equal(answer.statusCode, 200, answer.body)
  const rows = answer.json().rows as {
    cost: number
    requests: number
  }[]
  return { cost: rows.reduce((sum, r) => sum + r.cost, 0), requests: rows.reduce((sum, r) => sum + r.requests, 0) }
}

for (const backend of ['memory', 'redis'] as const) {
  describe(`accounting (${backend} limiter)`, () => {
    let app: FastifyInstance
    let gate: GatedModel
    const post = (url: string, key: string, payload?: object) =>
      app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, ...(payload ? { payload } : {}) })

    before(async () => {
      const builtin = await builtinModel()
      gate = gatedModel(builtin, 'gated')
      app = await buildTestApp({
        models: [builtin, gate.classifier],
        config: { maxBatch: 2, maxQueue: 4, ...(backend === 'redis' ? { redisUrl: REDIS_URL } : {}) },
      })
      if (backend === 'redis') await redisReady(app)
    })
    after(async () => {
      gate.open()
      await app.close()
    })

    const limited = () => createKey(app, { limits: parseRules([`${LIMIT}/1d`]) })

    test('a prediction costs one unit per text: query, body text and batch', async () => {
      const { key, id } = await limited()
      assert.equal((await post('/predict?text=a+fine+film', key)).statusCode, 200)
      assert.equal((await post('/predict', key, { text: 'a fine film' })).statusCode, 200)
      assert.equal((await post('/v1/models/sentiment/predict', key, { texts: ['a', 'b', 'c'] })).statusCode, 200)
      // The last request read the balance for free: 1 + 1 + 3 charged.
      assert.equal(await remaining(app, key), LIMIT - 5)
      assert.deepEqual(await usage(app, id), { cost: 5, requests: 4 })
    })

    test('refused work costs nothing: forbidden or unknown model, wrong scope, invalid input, over the limit', async () => {
      const restricted = await createKey(app, { limits: parseRules([`${LIMIT}/1d`]), models: ['gated'] })
      const forbidden = await post('/predict', restricted.key, { texts: ['a', 'b'] })
      assert.equal(forbidden.json().code, 'model_forbidden')
      const unknown = await post('/v1/models/nope/predict?text=hi', restricted.key)
      assert.equal(unknown.json().code, 'model_not_found')
      const invalid = await post('/v1/models/gated/predict', restricted.key, { texts: [] })
      assert.equal(invalid.json().code, 'validation_error')
      const job = await post('/v1/jobs', restricted.key, { texts: ['a', 'b', 'c'], model: 'sentiment' })
      assert.equal(job.json().code, 'model_forbidden')
      assert.equal(await remaining(app, restricted.key), LIMIT)
      const admin = await createKey(app, { scopes: ['admin'], limits: parseRules([`${LIMIT}/1d`]) })
      assert.equal((await post('/predict?text=hi', admin.key)).json().code, 'insufficient_scope')
      assert.equal(await remaining(app, admin.key), LIMIT)
      const small = await createKey(app, { limits: parseRules(['2/1d']) })
      assert.equal((await post('/predict', small.key, { texts: ['a', 'b', 'c'] })).statusCode, 422)
      assert.equal((await post('/predict', small.key, { texts: ['a', 'b'] })).statusCode, 200)
      assert.equal((await post('/predict?text=c', small.key)).statusCode, 429)
      assert.deepEqual(await usage(app, restricted.id), { cost: 0, requests: 5 })
      assert.deepEqual(await usage(app, small.id), { cost: 2, requests: 3 })
    })

    test('a full model queue (503) gives the charge back', async () => {
      const { key, id } = await limited()
      gate.holdAfter(0)
      // Two texts in the model call the gate holds, four waiting: the queue (4) is full.
      const held = [post('/v1/models/gated/predict', key, { texts: ['a', 'b'] })]
      await new Promise((resolve) => setTimeout(resolve, 50))
      held.push(post('/v1/models/gated/predict', key, { texts: ['c', 'd', 'e', 'f'] }))
      await new Promise((resolve) => setTimeout(resolve, 50))
      const busy = await post('/v1/models/gated/predict', key, { texts: ['g', 'h', 'i'] })
      assert.equal(busy.statusCode, 503)
      assert.equal(busy.json().code, 'server_busy')
      assert.equal(await remaining(app, key), LIMIT - 6)
      gate.open()
      for (const answer of await Promise.all(held)) assert.equal(answer.statusCode, 200)
      assert.deepEqual(await usage(app, id), { cost: 6, requests: 4 })
    })

    test('a job costs one unit per text at submission; usage adds up to what the limits were charged', async () => {
      const { key, id } = await limited()
      const job = await post('/v1/jobs', key, { texts: Array.from({ length: 40 }, (_, i) => `text ${i}`) })
      assert.equal(job.statusCode, 202)
      assert.equal(await remaining(app, key), LIMIT - 40)
      await post('/predict', key, { texts: ['x', 'y'] })
      const spent = LIMIT - (await remaining(app, key))
      assert.equal(spent, 42)
      assert.equal((await usage(app, id)).cost, spent)
    })
  })
}
