/**
 * Credit balances in tokens (`credits.unit: "tokens"`) on the LLM routes: the reservation
 * (prompt + max_tokens) is taken from the key's and the owner's token balances before the call,
 * settled to the reported usage afterwards; refused, 429 `quota_exhausted` in OpenAI's shape
 * (type `insufficient_quota`) that the SDK does not retry. Exact under concurrency: 200
 * concurrent requests on the store under test (SQLite, or PostgreSQL with
 * INFERGATE_TEST_DATABASE_URL), and on three instances sharing PostgreSQL and Redis.
 *
 * Each request reserves 100 tokens: 14 counted prompt tokens (one per byte of "user" and "abc",
 * 4 per message, 3 to prime the answer) + max_tokens 86.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import OpenAI from 'openai'
import { buildTestApp, createKey, redisReady } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { eventually } from '../fixtures/webhook-receiver.js'
import { run200 } from './llm-concurrency.js'
import { freshPostgres, postgresReachable } from '../postgres.js'
import { REDIS_URL } from '../ratelimit/backends.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'
import type { Config } from '../../src/config.js'

const RESERVED = 100
const BALANCE = 10_000
const body = { model: 'chat', messages: [{ role: 'user', content: 'abc' }], max_tokens: 86 }

type Json = Record<string, unknown>
interface OpenAiError {
  error: { code: string; type: string; message: string }
}

function llmConfig(upstream: OpenAiUpstream, extra: Partial<Config> = {}): Partial<Config> {
  return {
    // 200 calls at once: the in-flight caps (llm-concurrency.test.ts) are lifted for `chat` here.
    llms: parseLlmSpecs(
      `chat=${upstream.baseUrl}?max-concurrency=1024&key-concurrency=1024\nno-usage=${upstream.baseUrl}?model=no-usage\nfail=${upstream.baseUrl}?model=fail`,
    ),
    defaultLimits: [{ name: 'minute', limit: 1_000_000, windowMs: 60_000 }],
    // Token limits far above the balances: the limiter's reserve and refund run, the balance decides.
    llmLimits: [{ name: 'hour', limit: 100_000_000, windowMs: 3_600_000 }],
    creditsLowFraction: 0.5,
    ...extra,
  }
}

const chat = (app: FastifyInstance, key: string, payload: object = body) =>
  app.inject({ method: 'POST', url: '/v1/chat/completions', payload, headers: { authorization: `Bearer ${key}` } })

async function balance(
  app: FastifyInstance,
  table: 'api_keys' | 'owners',
  id: string,
): Promise<{ remaining: number | null; unit: string | null }> {
  const row = await app.services.db.kysely
    .selectFrom(table)
    .select(['credits_remaining', 'credits_unit'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow()
  return { remaining: row.credits_remaining === null ? null : Number(row.credits_remaining), unit: row.credits_unit }
}

/** Tokens in + out of the key's audit records, and how many there are by outcome. */
async function audited(app: FastifyInstance, keyId: string): Promise<{ tokens: number; outcomes: Record<string, number> }> {
  await app.services.audit!.flush()
  const records = await app.services.auditStore.list({ keyId, kind: 'request' }, 1000)
  const outcomes: Record<string, number> = {}
  for (const record of records) outcomes[record.outcome] = (outcomes[record.outcome] ?? 0) + 1
  return { tokens: records.reduce((sum, r) => sum + (r.tokensIn ?? 0) + (r.tokensOut ?? 0), 0), outcomes }
}

const QUOTA = { code: 'quota_exhausted', type: 'insufficient_quota' }
const spend = (apps: FastifyInstance[], keys: string[]) => run200(apps, keys, (app, key) => chat(app, key), QUOTA)

interface Suite {
  upstream: OpenAiUpstream
  app: FastifyInstance
  admin: string
}

/** The test LLM server and an app in front of it, with an admin key. */
async function start(): Promise<Suite> {
  const upstream = await startOpenAiUpstream()
  const app = await buildTestApp({ config: llmConfig(upstream) })
  const { key: admin } = await createKey(app, { scopes: ['admin'] })
  return { upstream, app, admin }
}

async function stop({ app, upstream }: Suite): Promise<void> {
  await app.close()
  await upstream.close()
}

describe('token credits: the API and one request at a time', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance
  let admin: string
  const asAdmin = (method: 'POST' | 'PATCH' | 'GET', url: string, payload?: object) =>
    app.inject({ method, url, headers: { 'x-api-key': admin }, ...(payload && { payload }) })

  async function tokenKey(credits: Json, owner = 'tok-team'): Promise<{ key: string; id: string; body: Json }> {
    const answer = await asAdmin('POST', '/v1/keys', { name: 'llm', owner, credits })
    assert.equal(answer.statusCode, 201, answer.body)
    const json = answer.json<Json & { key: string; id: string }>()
    return { key: json.key, id: json.id, body: json }
  }

  before(async () => ({ upstream, app, admin } = await start()))
  after(() => stop({ upstream, app, admin }))

  test('a request holds prompt + max_tokens and settles to the usage; audit and GET /v1/usage show the same tokens', async () => {
    upstream.promptTokens = 7
    upstream.words = 5
    const { key, id, body: created } = await tokenKey({ remaining: 1000, unit: 'tokens', refill: { amount: 1000, every: '30d' } })
    assert.deepEqual((created.credits as Json).unit, 'tokens')
    assert.deepEqual(await balance(app, 'api_keys', id), { remaining: 1000, unit: 'tokens' })
    const res = await chat(app, key)
    assert.equal(res.statusCode, 200, res.body)
    // The headers show the balance as the hold left it.
    assert.match(String(res.headers['ratelimit-policy']), /"token-credits";q=1000;ig-balance;ig-refill=2592000;ig-unit=tokens$/)
    assert.match(String(res.headers.ratelimit), /"token-credits";r=900;t=\d+;ig-unit=tokens$/)
    // 100 held, 12 used (7 + 5): 88 given back.
    assert.deepEqual(await balance(app, 'api_keys', id), { remaining: 988, unit: 'tokens' })
    assert.deepEqual(await audited(app, id), { tokens: 12, outcomes: { ok: 1 } })
    const usage = await app.inject({ method: 'GET', url: `/v1/usage?key=${id}`, headers: { 'x-api-key': admin } })
    assert.equal(usage.statusCode, 200, usage.body)
    const credits = usage.json<{ credits: { key: Json } }>().credits.key
    assert.equal(credits.remaining, 988)
    assert.equal(credits.unit, 'tokens')
    const view = await asAdmin('GET', `/v1/keys/${id}`)
    assert.equal((view.json<{ credits: Json }>().credits.remaining as number) + 12, 1000)
  })

  test('no usage reported: the whole reservation stays charged; a failed upstream gives it all back', async () => {
    const { key, id } = await tokenKey({ remaining: 1000, unit: 'tokens' })
    assert.equal((await chat(app, key, { ...body, model: 'no-usage' })).statusCode, 200)
    assert.equal((await balance(app, 'api_keys', id)).remaining, 900)
    assert.equal((await chat(app, key, { ...body, model: 'fail' })).statusCode, 502)
    assert.equal((await balance(app, 'api_keys', id)).remaining, 900)
    assert.deepEqual((await audited(app, id)).tokens, 100)
  })

  test('a balance short of the reservation: 429 quota_exhausted in OpenAI shape, Retry-After to the refill, x-should-retry: false; nothing taken or sent', async () => {
    upstream.promptTokens = 7
    upstream.words = 5
    const { key, id } = await tokenKey({ remaining: 99, unit: 'tokens', refill: { amount: 99, every: '1h' } })
    const sent = upstream.requests.length
    const res = await chat(app, key)
    assert.equal(res.statusCode, 429)
    const error = res.json<OpenAiError>().error
    assert.deepEqual([error.code, error.type], ['quota_exhausted', 'insufficient_quota'])
    assert.match(error.message, /token credits cannot cover this request's 100 tokens/)
    assert.equal(res.headers['x-should-retry'], 'false')
    const retry = Number(res.headers['retry-after'])
    assert.ok(retry > 3500 && retry <= 3600, String(retry))
    assert.equal(upstream.requests.length, sent)
    assert.deepEqual(await balance(app, 'api_keys', id), { remaining: 99, unit: 'tokens' })
    // The token limit's reservation went back, and the request unit (the next request below sees 1 used, not 2).
    const view = await asAdmin('GET', `/v1/keys/${id}`)
    const tokenState = view.json<{ limit_state: Json[] }>().limit_state.find((state) => state.unit === 'tokens')
    assert.equal(tokenState?.remaining, 100_000_000)
    // A smaller request fits.
    const fits = await chat(app, key, { ...body, max_tokens: 80 })
    assert.equal(fits.statusCode, 200)
    assert.equal(fits.headers['x-ratelimit-remaining-requests'], String(1_000_000 - 1))
    assert.deepEqual(await balance(app, 'api_keys', id), { remaining: 87, unit: 'tokens' })
  })

  test("the owner's token balance is shared by its keys; a key's request balance is charged 1 unit per LLM request", async () => {
    upstream.promptTokens = 7
    upstream.words = 5
    const owner = 'tok-shared'
    const set = await asAdmin('PATCH', `/v1/owners/${owner}`, { credits: { remaining: 150, unit: 'tokens' } })
    assert.equal(set.statusCode, 200, set.body)
    const first = await tokenKey({ remaining: 10 }, owner)
    const second = await tokenKey({ remaining: 10_000, unit: 'tokens' }, owner)
    assert.equal((await chat(app, first.key)).statusCode, 200)
    // The owner holds 150 - 12 = 138: the second key's 100 fit, then 126 are left.
    assert.equal((await chat(app, second.key)).statusCode, 200)
    assert.deepEqual(await balance(app, 'owners', owner), { remaining: 126, unit: 'tokens' })
    assert.deepEqual(await balance(app, 'api_keys', first.id), { remaining: 9, unit: null })
    assert.deepEqual(await balance(app, 'api_keys', second.id), { remaining: 9988, unit: 'tokens' })
    // 126 → 114 → 102 → 90, then 90 cannot hold 100.
    assert.equal((await chat(app, first.key)).statusCode, 200)
    assert.equal((await chat(app, second.key)).statusCode, 200)
    assert.equal((await chat(app, first.key)).statusCode, 200)
    const refused = await chat(app, first.key)
    assert.equal(refused.statusCode, 429)
    assert.match(refused.json<OpenAiError>().error.message, /owner's token credits/)
    assert.deepEqual(await balance(app, 'owners', owner), { remaining: 90, unit: 'tokens' })
    // Three requests took one unit each from the key's request balance; the refused one none (given back in the background).
    await eventually(async () => (await balance(app, 'api_keys', first.id)).remaining === 7, 'the refused request unit back')
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.deepEqual(await balance(app, 'api_keys', first.id), { remaining: 7, unit: null })
  })

  test('a token balance does not limit other routes', async () => {
    const { key, id } = await tokenKey({ remaining: 5, unit: 'tokens' })
    const predict = await app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': key }, payload: { text: 'fine' } })
    assert.equal(predict.statusCode, 200, predict.body)
    assert.equal((await balance(app, 'api_keys', id)).remaining, 5)
  })

  test('credits.low is recorded for a token balance, saying the unit', async () => {
    upstream.promptTokens = 7
    upstream.words = 5
    const { key, id } = await tokenKey({ remaining: 300, unit: 'tokens', refill: { amount: 300, every: '1d' } })
    // Holds of 100, each settled to 12: 300 → 200, 288 → 188, 276 → 176, 264 → 164, 252 → 152 stay at or
    // above the line (150, half the refill); 240 → 140 crosses it.
    for (let i = 0; i < 6; i++) assert.equal((await chat(app, key)).statusCode, 200)
    const rows = await app.services.db.kysely
      .selectFrom('webhook_events')
      .select(['type', 'payload'])
      .where('type', '=', 'credits.low')
      .execute()
    const mine = rows.map((row) => JSON.parse(row.payload) as { data: Json }).filter((event) => event.data.key_id === id)
    assert.equal(mine.length, 1)
    assert.deepEqual([mine[0]!.data.unit, mine[0]!.data.remaining, mine[0]!.data.charged], ['tokens', 140, 100])
  })

  test('bad balances are a 422 naming the field, never a 500; nothing is stored', async () => {
    const cases: unknown[] = [
      { remaining: -1, unit: 'tokens' },
      { remaining: 1.5, unit: 'tokens' },
      { remaining: 1e20, unit: 'tokens' },
      { remaining: '100', unit: 'tokens' },
      { remaining: 100, unit: 'bytes' },
      { remaining: 100, unit: 5 },
      { remaining: 100, unit: null },
    ]
    for (const credits of cases) {
      const res = await asAdmin('POST', '/v1/keys', { name: 'bad', owner: 'bad-credits', credits })
      assert.equal(res.statusCode, 422, `${JSON.stringify(credits)} → ${res.statusCode} ${res.body}`)
      assert.match(res.body, /credits/)
    }
    assert.equal((await asAdmin('GET', '/v1/keys?owner=bad-credits')).json<{ total: number }>().total, 0)
    const { id } = await tokenKey({ remaining: 50 })
    for (const credits of cases) {
      const res = await asAdmin('PATCH', `/v1/keys/${id}`, { credits })
      assert.equal(res.statusCode, 422, `PATCH ${JSON.stringify(credits)} → ${res.statusCode}`)
    }
    assert.deepEqual(await balance(app, 'api_keys', id), { remaining: 50, unit: null })
    // A change of unit comes with the new amount; an update without a unit keeps it.
    assert.equal((await asAdmin('PATCH', `/v1/keys/${id}`, { credits: { remaining: 500, unit: 'tokens' } })).statusCode, 200)
    assert.equal((await asAdmin('PATCH', `/v1/keys/${id}`, { add_credits: 5 })).statusCode, 200)
    assert.deepEqual(await balance(app, 'api_keys', id), { remaining: 505, unit: 'tokens' })
  })

  test('the OpenAI SDK raises RateLimitError with code quota_exhausted at once, without retrying', async () => {
    const { key, id } = await tokenKey({ remaining: 10, unit: 'tokens' })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: key, maxRetries: 2 })
    await assert.rejects(
      () => client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'abc' }], max_tokens: 86 }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.RateLimitError, String(error))
        assert.equal(error.code, 'quota_exhausted')
        assert.equal(error.type, 'insufficient_quota')
        return true
      },
    )
    // One request reached infergate: the SDK did not retry it.
    assert.deepEqual((await audited(app, id)).outcomes, { quota_exhausted: 1 })
  })
})

describe('token credits under concurrency (the store under test, in-memory limiter)', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance
  let admin: string

  before(async () => ({ upstream, app, admin } = await start()))
  after(() => stop({ upstream, app, admin }))

  async function tokenKey(): Promise<{ key: string; id: string }> {
    const answer = await app.inject({
      method: 'POST',
      url: '/v1/keys',
      headers: { 'x-api-key': admin },
      payload: { name: 'conc', owner: 'conc', credits: { remaining: BALANCE, unit: 'tokens' } },
    })
    assert.equal(answer.statusCode, 201, answer.body)
    return answer.json<{ key: string; id: string }>()
  }

  test('usage equal to the reservation: 200 concurrent requests, exactly balance / 100 admitted, balance 0, never below', async (t) => {
    upstream.promptTokens = 14
    upstream.words = 86
    const { key, id } = await tokenKey()
    const result = await spend([app], [key])
    t.diagnostic(`200 concurrent, token balance ${BALANCE}: admitted ${result.ok}, refused ${result.refused}`)
    assert.deepEqual(result, { ok: BALANCE / RESERVED, refused: 200 - BALANCE / RESERVED, other: [] })
    assert.deepEqual(await balance(app, 'api_keys', id), { remaining: 0, unit: 'tokens' })
    assert.equal((await audited(app, id)).tokens, BALANCE)
  })

  test('usage below the reservation: the balance is charged exactly the sum of the settled usage', async (t) => {
    upstream.promptTokens = 7
    upstream.words = 5
    const { key, id } = await tokenKey()
    const result = await spend([app], [key])
    assert.deepEqual(result.other, [])
    const left = (await balance(app, 'api_keys', id)).remaining!
    const { tokens } = await audited(app, id)
    t.diagnostic(`12 of 100 used: admitted ${result.ok}, charged ${BALANCE - left} = audit ${tokens}`)
    assert.ok(result.ok >= BALANCE / RESERVED, `${result.ok} admitted`)
    assert.ok(left >= 0)
    assert.equal(BALANCE - left, result.ok * 12)
    assert.equal(tokens, result.ok * 12)
  })
})

describe('token credits on three instances sharing PostgreSQL and Redis', async () => {
  const reachable = await postgresReachable()
  let upstream: OpenAiUpstream
  let apps: FastifyInstance[] = []
  let admin: string
  const owner = `tok-${process.pid}-${Date.now()}`

  before(async () => {
    if (!reachable) return
    upstream = await startOpenAiUpstream()
    const config = llmConfig(upstream, { databaseUrl: await freshPostgres(), redisUrl: REDIS_URL })
    apps = [await buildTestApp({ config }), await buildTestApp({ config }), await buildTestApp({ config })]
    await Promise.all(apps.map((app) => redisReady(app)))
    ;({ key: admin } = await createKey(apps[0]!, { scopes: ['admin'] }))
  })
  after(async () => {
    await Promise.all(apps.map((app) => app.close()))
    await upstream?.close()
  })

  async function sharedOwner(name: string): Promise<{ keys: string[]; ids: string[] }> {
    const set = await apps[0]!.inject({
      method: 'PATCH',
      url: `/v1/owners/${name}`,
      headers: { 'x-api-key': admin },
      payload: { credits: { remaining: BALANCE, unit: 'tokens' } },
    })
    assert.equal(set.statusCode, 200, set.body)
    const first = await createKey(apps[0]!, { owner: name })
    const second = await createKey(apps[0]!, { owner: name })
    return { keys: [first.key, second.key], ids: [first.id, second.id] }
  }

  test('an owner balance over two keys, 200 concurrent requests on three instances: exactly balance / 100 admitted', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    upstream.promptTokens = 14
    upstream.words = 86
    const { keys, ids } = await sharedOwner(owner)
    const result = await spend(apps, keys)
    t.diagnostic(`redis x3: 200 concurrent, owner token balance ${BALANCE}: admitted ${result.ok}, refused ${result.refused}`)
    assert.deepEqual(result, { ok: BALANCE / RESERVED, refused: 200 - BALANCE / RESERVED, other: [] })
    assert.deepEqual(await balance(apps[0]!, 'owners', owner), { remaining: 0, unit: 'tokens' })
    // Each instance's audit writer holds its own records: flush them all before adding up.
    await Promise.all(apps.map((app) => app.services.audit!.flush()))
    let tokens = 0
    for (const id of ids) tokens += (await audited(apps[0]!, id)).tokens
    assert.equal(tokens, BALANCE)
  })

  test('usage below the reservation across three instances: charged exactly the settled usage, never below 0', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    upstream.promptTokens = 7
    upstream.words = 5
    const name = `${owner}-b`
    const { keys, ids } = await sharedOwner(name)
    const result = await spend(apps, keys)
    assert.deepEqual(result.other, [])
    await Promise.all(apps.map((app) => app.services.audit!.flush()))
    const left = (await balance(apps[0]!, 'owners', name)).remaining!
    let tokens = 0
    for (const id of ids) tokens += (await audited(apps[0]!, id)).tokens
    t.diagnostic(`redis x3, 12 of 100 used: admitted ${result.ok}, charged ${BALANCE - left} = audit ${tokens}`)
    assert.ok(left >= 0)
    assert.equal(BALANCE - left, result.ok * 12)
    assert.equal(tokens, result.ok * 12)
  })
})
