/**
 * Token budgets stay exact under concurrency: 200 concurrent chat requests against a budget, on
 * the in-memory limiter (one instance) and on Redis shared by three instances (one PostgreSQL).
 *
 * Each request reserves 100 tokens: 14 counted prompt tokens (one per byte of "user" and "abc",
 * 4 per message, 3 to prime the answer) + max_tokens 86.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { freshPostgres, postgresReachable } from '../postgres.js'
import { REDIS_URL } from '../ratelimit/backends.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'
import type { Config } from '../../src/config.js'
import type { Principal } from '../../src/keys/types.js'
import { run200 } from './llm-concurrency.js'

const RESERVED = 100
const BUDGET = 10_000
const body = { model: 'chat', messages: [{ role: 'user', content: 'abc' }], max_tokens: 86 }

function llmConfig(upstream: OpenAiUpstream, extra: Partial<Config>): Partial<Config> {
  return {
    // 200 calls at once from one key: the in-flight caps (llm-concurrency.test.ts) are lifted here.
    llms: parseLlmSpecs(`chat=${upstream.baseUrl}?max-concurrency=1024&key-concurrency=1024`),
    defaultLimits: [{ name: 'minute', limit: 1_000_000, windowMs: 60_000 }],
    ...extra,
  }
}

const chat = (app: FastifyInstance, key: string) =>
  app.inject({ method: 'POST', url: '/v1/chat/completions', payload: body, headers: { authorization: `Bearer ${key}` } })

/** Tokens still available to the key (and its owner) on the shared limiter. */
async function remaining(app: FastifyInstance, keyId: string, owner: string): Promise<number[]> {
  const { decision } = await app.services.tokens.peek({ keyId, owner } as Principal)
  return decision.states.map((state) => state.remaining)
}

const RATE = { code: 'rate_limited', type: 'rate_limit_error' }
const spend = (apps: FastifyInstance[], keys: string[]) => run200(apps, keys, chat, RATE)

describe('token budget on the in-memory limiter', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance

  before(async () => {
    upstream = await startOpenAiUpstream()
    app = await buildTestApp({ config: llmConfig(upstream, { llmLimits: [{ name: 'hour', limit: BUDGET, windowMs: 3_600_000 }] }) })
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  test('usage equal to the reservation: 200 concurrent requests, exactly budget / 100 admitted, 0 tokens over', async (t) => {
    upstream.promptTokens = 14
    upstream.words = 86
    const { key, id } = await createKey(app)
    const result = await spend([app], [key])
    t.diagnostic(`memory: 200 concurrent, budget ${BUDGET}: admitted ${result.ok}, refused ${result.refused}`)
    assert.deepEqual(result, { ok: BUDGET / RESERVED, refused: 200 - BUDGET / RESERVED, other: [] })
    assert.deepEqual(await remaining(app, id, 'default'), [0])
    // The audit records add up to the budget, not a token more.
    await app.services.audit!.flush()
    const records = await app.services.auditStore.list({ keyId: id, kind: 'request' }, 1000)
    assert.equal(
      records.reduce((sum, r) => sum + (r.tokensIn ?? 0) + (r.tokensOut ?? 0), 0),
      BUDGET,
    )
  })

  test('usage below the reservation: the unused part is given back and the charge is exactly what was used', async (t) => {
    upstream.promptTokens = 7
    upstream.words = 5
    const { key, id } = await createKey(app)
    const result = await spend([app], [key])
    assert.deepEqual(result.other, [])
    t.diagnostic(`memory, 12 of 100 used: admitted ${result.ok}, charged ${result.ok * 12} of ${BUDGET}`)
    assert.ok(result.ok >= BUDGET / RESERVED, `${result.ok} admitted`)
    assert.deepEqual(await remaining(app, id, 'default'), [BUDGET - result.ok * 12])
  })
})

describe('token budget on Redis shared by three instances', async () => {
  const reachable = await postgresReachable()
  let upstream: OpenAiUpstream
  let apps: FastifyInstance[] = []
  const owner = `team-${process.pid}-${Date.now()}`

  before(async () => {
    if (!reachable) return
    upstream = await startOpenAiUpstream()
    const databaseUrl = await freshPostgres()
    const config = llmConfig(upstream, {
      databaseUrl,
      redisUrl: REDIS_URL,
      llmLimits: [{ name: 'hour', limit: 1_000_000, windowMs: 3_600_000 }],
      llmOwnerLimits: [{ name: 'hour', limit: BUDGET, windowMs: 3_600_000 }],
    })
    apps = [await buildTestApp({ config }), await buildTestApp({ config }), await buildTestApp({ config })]
  })
  after(async () => {
    await Promise.all(apps.map((app) => app.close()))
    await upstream?.close()
  })

  test('200 concurrent requests from two keys of one owner across three instances: exactly budget / 100 admitted', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    upstream.promptTokens = 14
    upstream.words = 86
    const first = await createKey(apps[0]!, { owner })
    const second = await createKey(apps[0]!, { owner })
    const result = await spend(apps, [first.key, second.key])
    t.diagnostic(`redis x3: 200 concurrent, owner budget ${BUDGET}: admitted ${result.ok}, refused ${result.refused}`)
    assert.deepEqual(result, { ok: BUDGET / RESERVED, refused: 200 - BUDGET / RESERVED, other: [] })
    // The owner's budget is spent to the token, and every instance sees the same state.
    for (const app of apps) assert.equal((await remaining(app, first.id, owner))[1], 0)
  })

  test('usage below the reservation across three instances: the charge is exactly what was used', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    upstream.promptTokens = 7
    upstream.words = 5
    const { key, id } = await createKey(apps[0]!, { owner: `${owner}-b` })
    const result = await spend(apps, [key])
    assert.deepEqual(result.other, [])
    t.diagnostic(`redis x3, 12 of 100 used: admitted ${result.ok}, charged ${result.ok * 12} of ${BUDGET}`)
    assert.ok(result.ok >= BUDGET / RESERVED)
    for (const app of apps) assert.equal((await remaining(app, id, `${owner}-b`))[1], BUDGET - result.ok * 12)
  })
})
