/**
 * Credits with refill (issue 19 part 1): a key or an owner may have a credit balance; every
 * unit charged is taken from it in the same step as the rate limits, refused work takes
 * nothing, an exhausted balance answers 429 `quota_exhausted` with Retry-After until the next
 * refill, and a refill sets the balance back to its amount. Exact under concurrency: SQLite here,
 * and three instances on one PostgreSQL and one Redis.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { builtinModel, buildTestApp, createKey, redisReady } from '../helper.js'
import type { GatedModel } from '../fixtures/gated-model.js'
import { gatedModel } from '../fixtures/gated-model.js'
import { freshPostgres, postgresReachable, TEST_DATABASE_URL } from '../postgres.js'
import { REDIS_URL } from '../ratelimit/backends.js'

const HOUR = 3_600_000
const clock = new ManualClock(Date.UTC(2026, 2, 1))
let app: FastifyInstance
let admin: string
let gate: GatedModel

before(async () => {
  gate = gatedModel(await builtinModel())
  app = await buildTestApp({ clock, models: [gate.classifier] })
  ;({ key: admin } = await createKey(app, { scopes: ['admin'] }))
})
after(() => app.close())

type Json = Record<string, unknown>
const asAdmin = (method: 'POST' | 'PATCH' | 'GET' | 'DELETE', url: string, payload?: object) =>
  app.inject({ method, url, headers: { 'x-api-key': admin }, ...(payload && { payload }) })
const predict = (key: string, texts: string[] = ['fine'], target = app) =>
  target.inject({ method: 'POST', url: '/v1/models/sentiment/predict', headers: { 'x-api-key': key }, payload: { texts } })

async function newKey(body: Json): Promise<{ key: string; id: string; body: Json }> {
  const answer = await asAdmin('POST', '/v1/keys', { name: 'credits', owner: 'acme', limits: ['100000/1m'], ...body })
  assert.equal(answer.statusCode, 201, answer.body)
  const json = answer.json<Json & { key: string; id: string }>()
  return { key: json.key, id: json.id, body: json }
}

async function stored(table: 'api_keys' | 'owners', id: string): Promise<number | null> {
  const row = await app.services.db.kysely.selectFrom(table).select('credits_remaining').where('id', '=', id).executeTakeFirst()
  return row?.credits_remaining === null || row === undefined ? null : Number(row.credits_remaining)
}

async function outcomes(keyId: string): Promise<string[]> {
  await app.services.audit!.flush()
  const rows = await app.services.db.kysely
    .selectFrom('audit_log')
    .select(['outcome', 'cost'])
    .where('key_id', '=', keyId)
    .where('kind', '=', 'request')
    .orderBy('seq')
    .execute()
  return rows.map((row) => `${row.outcome}:${row.cost}`)
}

describe('credits: the API', () => {
  test('create, show, set, add and remove a balance; answers show it with the next refill', async () => {
    const { id, body } = await newKey({ credits: { remaining: 1000, refill: { amount: 1000, every: '30d' } } })
    const nextRefill = new Date(clock.now() + 30 * 24 * HOUR).toISOString()
    assert.deepEqual(body.credits, {
      remaining: 1000,
      unit: 'requests',
      refill: { amount: 1000, every: '30d' },
      next_refill_at: nextRefill,
    })
    assert.deepEqual((await asAdmin('GET', `/v1/keys/${id}`)).json().credits, body.credits)
    const set = await asAdmin('PATCH', `/v1/keys/${id}`, { credits: { remaining: 10 } })
    assert.equal(set.statusCode, 200, set.body)
    assert.deepEqual(
      set.json().credits,
      { remaining: 10, unit: 'requests', refill: { amount: 1000, every: '30d' }, next_refill_at: nextRefill },
      'refill kept',
    )
    const added = await asAdmin('PATCH', `/v1/keys/${id}`, { add_credits: 5 })
    assert.equal(added.json().credits.remaining, 15)
    const noRefill = await asAdmin('PATCH', `/v1/keys/${id}`, { credits: { remaining: 7, refill: null } })
    assert.deepEqual(noRefill.json().credits, { remaining: 7, unit: 'requests', refill: null, next_refill_at: null })
    const removed = await asAdmin('PATCH', `/v1/keys/${id}`, { credits: null })
    assert.equal(removed.json().credits, null)
    assert.equal(await stored('api_keys', id), null)
    const plain = await newKey({})
    assert.equal(plain.body.credits, null)
  })

  test('bad values are a 422 naming the field, and nothing is stored', async () => {
    const before = (await asAdmin('GET', '/v1/keys?limit=200')).json<{ total: number }>().total
    for (const credits of [
      { remaining: -1 },
      { remaining: 1.5 },
      { remaining: Number.MAX_SAFE_INTEGER + 2 },
      { remaining: '10' },
      { remaining: 10, refill: { amount: 0, every: '30d' } },
      { remaining: 10, refill: { amount: 10, every: '30x' } },
      { remaining: 10, refill: { amount: 10, every: '0s' } },
      { remaining: 10, refill: '1000/30d' },
      { remaining: 10, extra: 1 },
      {},
    ]) {
      const answer = await asAdmin('POST', '/v1/keys', { name: 'bad', owner: 'acme', credits })
      assert.equal(answer.statusCode, 422, `${JSON.stringify(credits)}: ${answer.body}`)
      assert.equal(answer.json().code, 'validation_error')
      assert.deepEqual(answer.json<{ detail: { loc: unknown[] }[] }>().detail[0]!.loc.slice(0, 2), ['body', 'credits'])
    }
    assert.equal((await asAdmin('GET', '/v1/keys?limit=200')).json<{ total: number }>().total, before)
    const { id } = await newKey({})
    for (const body of [{ add_credits: 0 }, { add_credits: -3 }, { add_credits: 2.5 }, { add_credits: 1e300 }]) {
      assert.equal((await asAdmin('PATCH', `/v1/keys/${id}`, body)).statusCode, 422, JSON.stringify(body))
    }
    const nothingToAdd = await asAdmin('PATCH', `/v1/keys/${id}`, { add_credits: 5 })
    assert.equal(nothingToAdd.statusCode, 422)
    assert.deepEqual(nothingToAdd.json().detail[0].loc, ['body', 'add_credits'])
    const big = await newKey({ credits: { remaining: Number.MAX_SAFE_INTEGER } })
    const overflow = await asAdmin('PATCH', `/v1/keys/${big.id}`, { add_credits: 1 })
    assert.equal(overflow.statusCode, 422, overflow.body)
    assert.equal(await stored('api_keys', big.id), Number.MAX_SAFE_INTEGER)
    assert.equal((await asAdmin('PATCH', '/v1/owners/acme', { credits: { remaining: -5 } })).statusCode, 422)
  })
})

describe('credits: charging', () => {
  test('each unit is taken from the balance; exhausted: 429 quota_exhausted, no Retry-After without a refill, audited', async () => {
    const { key, id } = await newKey({ credits: { remaining: 3 } })
    const two = await predict(key, ['good', 'bad'])
    assert.equal(two.statusCode, 200)
    assert.match(String(two.headers['ratelimit-policy']), /, "credits";q=1;ig-balance$/)
    assert.match(String(two.headers.ratelimit), /, "credits";r=1$/)
    assert.equal(await stored('api_keys', id), 1)
    const tooMany = await predict(key, ['a', 'b'])
    assert.equal(tooMany.statusCode, 429)
    assert.deepEqual(tooMany.json<Json>().detail, 'Usage quota exhausted.')
    assert.equal(tooMany.json().code, 'quota_exhausted')
    assert.equal(tooMany.headers['retry-after'], undefined)
    // The OpenAI SDKs obey this instead of retrying every 429 (after a Retry-After of any length).
    assert.equal(tooMany.headers['x-should-retry'], 'false')
    assert.equal(await stored('api_keys', id), 1, 'a refused request takes nothing')
    assert.equal((await predict(key, ['one'])).statusCode, 200)
    assert.equal((await predict(key, ['one'])).statusCode, 429)
    assert.equal(await stored('api_keys', id), 0)
    assert.deepEqual(await outcomes(id), ['ok:2', 'quota_exhausted:0', 'ok:1', 'quota_exhausted:0'])
    // Every charged unit takes credits, reading one's usage (1 unit) too; the 429 still tells the balance.
    const usage = await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-api-key': key } })
    assert.equal(usage.json().code, 'quota_exhausted')
    assert.match(String(usage.headers.ratelimit), /"credits";r=0$/)
  })

  test('a refill sets the balance back to its amount at each period boundary (not added), with Retry-After until then', async () => {
    const { key, id } = await newKey({ credits: { remaining: 2, refill: { amount: 2, every: '1h' } } })
    const start = clock.now()
    assert.equal((await predict(key, ['a', 'b'])).statusCode, 200)
    clock.advance(15 * 60_000)
    const empty = await predict(key)
    assert.equal(empty.statusCode, 429)
    assert.equal(empty.headers['retry-after'], String(45 * 60))
    assert.match(String(empty.headers.ratelimit), /"credits";r=0;t=2700$/)
    assert.match(String(empty.headers['ratelimit-policy']), /"credits";q=2;ig-balance;ig-refill=3600$/)
    clock.set(start + HOUR)
    assert.equal((await predict(key)).statusCode, 200, 'refilled at the boundary')
    assert.equal(await stored('api_keys', id), 1)
    // Three periods later the balance is 2 again, not 1 + 3 × 2.
    clock.set(start + 4 * HOUR + 10)
    const shown = (await asAdmin('GET', `/v1/keys/${id}`)).json()
    assert.deepEqual(shown.credits, {
      remaining: 2,
      unit: 'requests',
      refill: { amount: 2, every: '1h' },
      next_refill_at: new Date(start + 5 * HOUR).toISOString(),
    })
    const own = await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-api-key': key } })
    assert.equal(own.statusCode, 200, own.body)
    assert.deepEqual(own.json().credits, { key: { ...shown.credits, remaining: 1 }, owner: null }, 'after its own unit')
    assert.equal((await predict(key)).statusCode, 200)
    assert.equal((await predict(key)).statusCode, 429)
  })

  test('refused work takes no credit: invalid input, a forbidden model, over a rate limit; a quota refusal takes no rate-limit unit', async () => {
    const { key, id } = await newKey({ credits: { remaining: 10 }, limits: ['2/1m'] })
    assert.equal((await predict(key, [''])).statusCode, 422)
    assert.equal((await app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': key }, payload: {} })).statusCode, 422)
    assert.equal((await predict(key, ['x'.repeat(100_000)])).statusCode, 422)
    const { key: narrow, id: narrowId } = await createKey(app, { models: ['some-other-model'] })
    await asAdmin('PATCH', `/v1/keys/${narrowId}`, { credits: { remaining: 4 } })
    assert.equal((await predict(narrow)).statusCode, 403)
    assert.equal(await stored('api_keys', narrowId), 4)
    assert.equal((await predict(key)).statusCode, 200)
    assert.equal((await predict(key)).statusCode, 200)
    const limited = await predict(key)
    assert.equal(limited.statusCode, 429)
    assert.equal(limited.json().code, 'rate_limited')
    assert.equal(await stored('api_keys', id), 8)

    const { key: short, id: shortId } = await newKey({ credits: { remaining: 1 }, limits: ['2/1m'] })
    assert.equal((await predict(short)).statusCode, 200)
    const quota = await predict(short)
    assert.equal(quota.json().code, 'quota_exhausted')
    assert.match(String(quota.headers.ratelimit), /"minute";r=1;/, 'the refused request is not counted against the limit')
    await asAdmin('PATCH', `/v1/keys/${shortId}`, { add_credits: 5 })
    assert.equal((await predict(short)).statusCode, 200, 'the second unit of 2/1m was still free')
    assert.equal((await predict(short)).json().code, 'rate_limited')
    assert.equal(await stored('api_keys', shortId), 4)
  })

  test("an owner's balance is shared by its keys, on top of each key's own", async () => {
    const patched = await asAdmin('PATCH', '/v1/owners/team-credits', { credits: { remaining: 3 } })
    assert.equal(patched.statusCode, 200, patched.body)
    assert.deepEqual(patched.json().credits, { remaining: 3, unit: 'requests', refill: null, next_refill_at: null })
    const one = await newKey({ owner: 'team-credits' })
    const two = await newKey({ owner: 'team-credits', credits: { remaining: 100 } })
    const answers = []
    for (let i = 0; i < 6; i++) answers.push((await predict(i % 2 === 0 ? one.key : two.key)).statusCode)
    assert.deepEqual(answers, [200, 200, 200, 429, 429, 429])
    assert.equal(await stored('owners', 'team-credits'), 0)
    assert.equal(await stored('api_keys', two.id), 99, "the key's own balance gave only what the owner's admitted")
    const header = (await predict(two.key)).headers.ratelimit
    assert.match(String(header), /"credits";r=99, "owner-credits";r=0$/)
    const added = await asAdmin('PATCH', '/v1/owners/team-credits', { add_credits: 1 })
    assert.equal(added.json().credits.remaining, 1)
    assert.equal((await predict(one.key)).statusCode, 200)
    const removed = await asAdmin('PATCH', '/v1/owners/team-credits', { credits: null })
    assert.equal(removed.json().credits, null)
    assert.equal((await predict(one.key)).statusCode, 200, 'no balance: unlimited again')
  })

  test('a job takes its whole cost at submission; cancelling gives back its unprocessed texts', async () => {
    const { key, id } = await newKey({ credits: { remaining: 10 } })
    const submit = (texts: string[]) => app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'x-api-key': key }, payload: { texts } })
    const refused = await submit(Array.from({ length: 11 }, (_, i) => `text ${i}`))
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.json().code, 'quota_exhausted')
    assert.equal(await stored('api_keys', id), 10)
    // The model is held: the job's texts stay unprocessed until it is cancelled.
    gate.holdAfter(0)
    try {
      const accepted = await submit(Array.from({ length: 6 }, (_, i) => `text ${i}`))
      assert.equal(accepted.statusCode, 202, accepted.body)
      assert.equal(await stored('api_keys', id), 4)
      const cancelled = await app.inject({ method: 'DELETE', url: `/v1/jobs/${accepted.json().id}`, headers: { 'x-api-key': key } })
      assert.equal(cancelled.statusCode, 200, cancelled.body)
      assert.equal(cancelled.json().done, 0)
      assert.equal(await stored('api_keys', id), 10, 'its six unprocessed texts given back')
    } finally {
      gate.open()
    }
    // A finished job gives nothing back.
    const finished = await submit(['one', 'two'])
    assert.equal(finished.statusCode, 202)
    for (let i = 0; i < 200; i++) {
      const job = await app.inject({ method: 'GET', url: `/v1/jobs/${finished.json().id}`, headers: { 'x-api-key': key } })
      if (job.json().status === 'succeeded') break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const late = await app.inject({ method: 'DELETE', url: `/v1/jobs/${finished.json().id}`, headers: { 'x-api-key': key } })
    assert.equal(late.statusCode, 409)
    assert.equal(await stored('api_keys', id), 8)
  })

  test('500 concurrent requests at a balance of 100 admit exactly 100', async () => {
    const { key, id } = await newKey({ credits: { remaining: 100 } })
    const statuses = await Promise.all(Array.from({ length: 500 }, () => predict(key).then((r) => r.statusCode)))
    assert.equal(statuses.filter((s) => s === 200).length, 100)
    assert.equal(statuses.filter((s) => s === 429).length, 400)
    assert.equal(await stored('api_keys', id), 0)
  })

  test('a rotation moves the balance to the new key; the old one keeps none', async () => {
    const { key, id } = await newKey({ credits: { remaining: 5 } })
    assert.equal((await predict(key)).statusCode, 200)
    const rotated = await asAdmin('POST', `/v1/keys/${id}/rotate`, { grace: '1h' })
    assert.equal(rotated.statusCode, 201, rotated.body)
    assert.equal(rotated.json().credits.remaining, 4)
    assert.equal((await predict(key)).json().code, 'quota_exhausted')
    assert.equal((await predict(rotated.json().key)).statusCode, 200)
    assert.equal(await stored('api_keys', rotated.json().id), 3)
  })
})

describe('credits across instances', async () => {
  const reachable = await postgresReachable()
  test('three instances on one PostgreSQL and one Redis: 500 concurrent requests at a balance of 100 admit exactly 100', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    const databaseUrl = await freshPostgres()
    const config = { databaseUrl, redisUrl: REDIS_URL }
    const apps = await Promise.all([0, 1, 2].map(() => buildTestApp({ config })))
    try {
      await Promise.all(apps.map((instance) => redisReady(instance)))
      const { key, id } = await createKey(apps[0]!, { limits: parseRules(['100000/1m']) })
      await apps[0]!.services.keys.update(id, { credits: { remaining: 100 } })
      const statuses = await Promise.all(
        Array.from({ length: 500 }, (_, i) => predict(key, ['fine'], apps[i % 3]).then((r) => r.statusCode)),
      )
      assert.equal(statuses.filter((s) => s === 200).length, 100)
      assert.equal(statuses.filter((s) => s === 429).length, 400)
      const row = await apps[1]!.services.db.kysely
        .selectFrom('api_keys')
        .select('credits_remaining')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
      assert.equal(Number(row.credits_remaining), 0)
    } finally {
      await Promise.all(apps.map((instance) => instance.close()))
    }
  })
  test('the balance survives a restart', { skip: TEST_DATABASE_URL === '' ? false : 'covered by the SQLite run' }, async () => {
    const { tempDir } = await import('../helper.js')
    const dataDir = tempDir()
    const first = await buildTestApp({ config: { dataDir, databaseUrl: '' } })
    const { key, id } = await createKey(first, { limits: parseRules(['1000/1m']) })
    await first.services.keys.update(id, { credits: { remaining: 3 } })
    assert.equal((await predict(key, ['a', 'b'], first)).statusCode, 200)
    await first.close()
    const second = await buildTestApp({ config: { dataDir, databaseUrl: '' } })
    try {
      assert.equal((await predict(key, ['a', 'b'], second)).json().code, 'quota_exhausted')
      assert.equal((await predict(key, ['a'], second)).statusCode, 200)
    } finally {
      await second.close()
    }
  })
})
