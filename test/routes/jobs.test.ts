import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, builtinModel, createKey } from '../helper.js'
import { gatedModel, type GatedModel } from '../fixtures/gated-model.js'
import { freshPostgres, postgresReachable } from '../postgres.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 0))
let app: FastifyInstance
let owner: { key: string; id: string }
let other: { key: string; id: string }
let admin: { key: string; id: string }

before(async () => {
  app = await buildTestApp({ clock, config: { maxJobTexts: 300, maxJobsPerKey: 3, maxBatch: 16 } })
  owner = await createKey(app)
  other = await createKey(app)
  admin = await createKey(app, { scopes: ['admin', 'predict'] })
  for (const k of [owner, other, admin]) await app.services.keys.update(k.id, { limits: parseRules(['100000/1m']) })
})
after(() => app.close())

function call(method: 'GET' | 'POST' | 'DELETE', url: string, key: string, payload?: unknown) {
  return app.inject({
    method,
    url,
    headers: { 'x-api-key': key },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  })
}

interface JobBody {
  status: string
  done: number
  started_at: string | null
  finished_at: string | null
  error?: string | null
}

async function waitFor(id: string, key: string, done: (body: JobBody) => boolean, timeoutMs = 15_000): Promise<JobBody> {
  const start = Date.now()
  for (;;) {
    const body = (await call('GET', `/v1/jobs/${id}`, key)).json<JobBody>()
    if (done(body)) return body
    if (Date.now() - start > timeoutMs) throw new Error(`job ${id} stuck: ${JSON.stringify(body)}`)
    await delay(20)
  }
}

describe('async jobs', () => {
  test('create, poll to completion and page through the results, each text exactly once', async () => {
    const texts = Array.from({ length: 250 }, (_, i) => (i % 2 === 0 ? `a wonderful film number ${i}` : `a dull tedious mess number ${i}`))
    const created = await call('POST', '/v1/jobs', owner.key, { texts })
    assert.equal(created.statusCode, 202, created.body)
    const { id, status, total, model } = created.json()
    assert.match(id, /^job_/)
    assert.deepEqual({ status, total, model }, { status: 'queued', total: 250, model: 'sentiment' })
    assert.equal(created.headers.location, `/v1/jobs/${id}`)

    const finished = await waitFor(id, owner.key, (b) => b.status === 'succeeded')
    assert.equal(finished.done, 250)
    assert.ok(finished.started_at && finished.finished_at)
    const seen: number[] = []
    for (let offset: number | null = 0; offset !== null;) {
      const page: {
        results: { index: number; sentiment: string; confidence: number; label: string; scores: Record<string, number> }[]
        next_offset: number | null
      } = (await call('GET', `/v1/jobs/${id}?offset=${offset}&limit=100`, owner.key)).json()
      for (const result of page.results) {
        seen.push(result.index)
        assert.equal(result.sentiment, result.index % 2 === 0 ? 'positive' : 'negative')
        assert.equal(result.confidence, result.scores[result.label])
      }
      offset = page.next_offset
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 250 }, (_, i) => i),
    )
    const direct = (await call('POST', '/predict', owner.key, { text: texts[7] })).json()
    const stored = (await call('GET', `/v1/jobs/${id}?offset=7&limit=1`, owner.key)).json().results[0]
    assert.deepEqual(stored.scores, direct.scores)
  })

  test('another key gets 404, an admin key sees every job', async () => {
    const { id } = (await call('POST', '/v1/jobs', owner.key, { texts: ['fine'] })).json()
    await waitFor(id, owner.key, (b) => b.status === 'succeeded')
    for (const [method, url] of [
      ['GET', `/v1/jobs/${id}`],
      ['DELETE', `/v1/jobs/${id}`],
    ] as const) {
      const refused = await call(method, url, other.key)
      assert.equal(refused.statusCode, 404)
      assert.equal(refused.json().code, 'not_found')
    }
    assert.equal((await call('GET', `/v1/jobs/${id}`, admin.key)).statusCode, 200)
    const mine = (await call('GET', '/v1/jobs', owner.key)).json().jobs as { id: string }[]
    assert.ok(mine.some((job) => job.id === id))
    assert.equal(((await call('GET', '/v1/jobs', other.key)).json().jobs as unknown[]).length, 0)
    const all = (await call('GET', '/v1/jobs?limit=1000', admin.key)).json().jobs as { id: string }[]
    assert.ok(all.some((job) => job.id === id))
  })

  test('an admin-only key (no predict scope) may list, read and cancel every job, but not create one', async () => {
    const operator = await createKey(app, { scopes: ['admin'] })
    const { id } = (await call('POST', '/v1/jobs', owner.key, { texts: ['fine'] })).json()
    await waitFor(id, owner.key, (b) => b.status === 'succeeded')
    const listed = await call('GET', '/v1/jobs?limit=1000', operator.key)
    assert.equal(listed.statusCode, 200)
    assert.ok((listed.json().jobs as { id: string }[]).some((job) => job.id === id))
    assert.equal((await call('GET', `/v1/jobs/${id}`, operator.key)).statusCode, 200)
    assert.equal((await call('DELETE', `/v1/jobs/${id}`, operator.key)).json().code, 'conflict')
    const create = await call('POST', '/v1/jobs', operator.key, { texts: ['x'] })
    assert.equal(create.statusCode, 403)
    assert.equal(create.json().code, 'insufficient_scope')
  })

  test('a job is charged whole at submission: over the limit it is 429 or, when it can never fit, 422 naming the limit', async () => {
    const paced = await createKey(app)
    await app.services.keys.update(paced.id, { limits: parseRules(['20/1m']) })
    const created = await call('POST', '/v1/jobs', paced.key, { texts: Array.from({ length: 15 }, (_, i) => `text ${i}`) })
    assert.equal(created.statusCode, 202)
    assert.match(String(created.headers.ratelimit), /r=5;/)
    const tooBig = await call('POST', '/v1/jobs', paced.key, { texts: Array.from({ length: 25 }, (_, i) => `text ${i}`) })
    assert.equal(tooBig.statusCode, 422)
    assert.match(JSON.stringify(tooBig.json().detail), /costs 25 units but the 'minute' limit allows 20/)
    const over = await call('POST', '/v1/jobs', paced.key, { texts: Array.from({ length: 6 }, (_, i) => `text ${i}`) })
    assert.equal(over.statusCode, 429)
    assert.equal(over.json().code, 'rate_limited')
    assert.ok(Number(over.headers['retry-after']) > 0)
    // Refused jobs cost nothing: 5 units are still there, and reading the job costs none.
    await waitFor(created.json().id, paced.key, (b) => b.status === 'succeeded')
    const five = await call('POST', '/predict', paced.key, { texts: ['a', 'b', 'c', 'd', 'e'] })
    assert.equal(five.statusCode, 200)
    assert.equal((await call('POST', '/predict?text=one+more', paced.key)).statusCode, 429)
  })

  test('validation: empty list, non-strings, too many texts, blank text, unknown model', async () => {
    const cases: [unknown, number, string][] = [
      [{ texts: [] }, 422, 'validation_error'],
      [{ texts: ['ok', 3] }, 422, 'validation_error'],
      [{ texts: Array.from({ length: 301 }, () => 'x') }, 422, 'validation_error'],
      [{ texts: ['ok', ' \n'] }, 422, 'validation_error'],
      [{}, 422, 'validation_error'],
      [{ texts: ['ok'], model: 'nope' }, 404, 'model_not_found'],
    ]
    for (const [payload, status, code] of cases) {
      const response = await call('POST', '/v1/jobs', other.key, payload)
      assert.equal(response.statusCode, status, `${JSON.stringify(payload).slice(0, 60)}: ${response.body}`)
      assert.equal(response.json().code, code)
    }
  })

  test('finished jobs are purged after the retention time', async () => {
    const { id } = (await call('POST', '/v1/jobs', other.key, { texts: ['fine'] })).json()
    await waitFor(id, other.key, (b) => b.status === 'succeeded')
    clock.advance(25 * 3_600_000)
    app.services.jobWorker.notify()
    const start = Date.now()
    while ((await call('GET', `/v1/jobs/${id}`, other.key)).statusCode !== 404) {
      if (Date.now() - start > 10_000) throw new Error('the job was not purged')
      await delay(50)
    }
  })
})

describe('async jobs held in the middle', () => {
  let held: FastifyInstance
  let gate: GatedModel
  let client: { key: string; id: string }

  before(async () => {
    gate = gatedModel(await builtinModel())
    held = await buildTestApp({ clock, models: [gate.classifier], config: { maxJobTexts: 300, maxJobsPerKey: 3, maxBatch: 5 } })
    client = await createKey(held)
    await held.services.keys.update(client.id, { limits: parseRules(['100/1m']) })
  })
  after(async () => {
    gate.open()
    await held.close()
  })

  const send = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    held.inject({ method, url, headers: { 'x-api-key': client.key }, ...(payload === undefined ? {} : { payload: payload as object }) })

  async function heldAt(id: string, done: number): Promise<void> {
    const start = Date.now()
    while ((await send('GET', `/v1/jobs/${id}`)).json<JobBody>().done !== done) {
      if (Date.now() - start > 15_000) throw new Error(`job ${id} did not reach ${done}`)
      await delay(20)
    }
  }

  test('cancel drops the rest; a finished job cannot be cancelled', async () => {
    gate.holdAfter(1)
    const { id } = (await send('POST', '/v1/jobs', { texts: Array.from({ length: 20 }, (_, i) => `t${i}`) })).json()
    await heldAt(id, 5)
    const cancelled = await send('DELETE', `/v1/jobs/${id}`)
    assert.equal(cancelled.statusCode, 200)
    assert.equal(cancelled.json().status, 'cancelled')
    const again = await send('DELETE', `/v1/jobs/${id}`)
    assert.equal(again.statusCode, 409)
    assert.equal(again.json().code, 'conflict')
    const page = (await send('GET', `/v1/jobs/${id}`)).json()
    assert.equal(page.status, 'cancelled')
    assert.equal(page.results.length, 5)
    // The results end where the work stopped: no page of nothing after them (issue 17).
    assert.equal(page.next_offset, null)
    const paged = (await send('GET', `/v1/jobs/${id}?offset=3&limit=2`)).json()
    assert.deepEqual([paged.results.length, paged.next_offset], [2, null])
    const rows = await held.services.db.kysely
      .selectFrom('job_items')
      .select('text')
      .where('job_id', '=', id)
      .where('text', 'is not', null)
      .execute()
    assert.equal(rows.length, 0, 'inputs of a cancelled job are not kept')
    gate.open()
  })

  test('unfinished jobs per key are capped (429 too_many_jobs), and the refused job costs nothing', async () => {
    clock.advance(61_000)
    gate.holdAfter(0)
    for (let i = 0; i < 3; i++)
      assert.equal((await send('POST', '/v1/jobs', { texts: Array.from({ length: 10 }, () => 'x') })).statusCode, 202)
    const refused = await send('POST', '/v1/jobs', { texts: ['x', 'y'] })
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.json().code, 'too_many_jobs')
    // 30 of 100 used by the three jobs; the refused job's 2 units were given back.
    const after = await send('GET', '/v1/jobs')
    assert.match(String(after.headers.ratelimit), /r=70;/)
    gate.open()
  })
})

describe('queued work follows the key (issue 16)', () => {
  let held: FastifyInstance
  let gate: GatedModel

  before(async () => {
    gate = gatedModel(await builtinModel())
    held = await buildTestApp({ clock, models: [gate.classifier], config: { maxJobTexts: 300, maxBatch: 5 } })
  })
  after(async () => {
    gate.open()
    await held.close()
  })

  const send = (key: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    held.inject({ method, url, headers: { 'x-api-key': key }, ...(payload === undefined ? {} : { payload: payload as object }) })

  async function until(key: string, id: string, check: (body: JobBody) => boolean): Promise<JobBody> {
    const start = Date.now()
    for (;;) {
      const body = (await send(key, 'GET', `/v1/jobs/${id}`)).json<JobBody>()
      if (check(body)) return body
      if (Date.now() - start > 15_000) throw new Error(`job ${id}: ${JSON.stringify(body).slice(0, 200)}`)
      await delay(20)
    }
  }

  test('a key whose model allow-list no longer holds the job’s model: the job stops at the next chunk, failed, naming why', async () => {
    const client = await createKey(held, { limits: parseRules(['1000/1m']) })
    gate.holdAfter(1)
    const { id } = (await send(client.key, 'POST', '/v1/jobs', { texts: Array.from({ length: 20 }, (_, i) => `t${i}`) })).json<{
      id: string
    }>()
    await until(client.key, id, (body) => body.done === 5)
    await held.services.keys.update(client.id, { models: ['some-other-model'] })
    gate.open()
    const body = await until(client.key, id, (b) => b.status === 'failed')
    // The chunk already at the model when the policy changed finishes; no later one starts.
    assert.ok(body.done <= 10, `done ${body.done}`)
    assert.match(String(body.error), /may no longer use the model/)
  })

  test('a key that lost the predict scope: the job fails at the next chunk', async () => {
    const client = await createKey(held, { scopes: ['predict', 'admin'], limits: parseRules(['1000/1m']) })
    gate.holdAfter(1)
    const { id } = (await send(client.key, 'POST', '/v1/jobs', { texts: Array.from({ length: 20 }, (_, i) => `s${i}`) })).json<{
      id: string
    }>()
    await until(client.key, id, (body) => body.done === 5)
    await held.services.keys.update(client.id, { scopes: ['admin'] })
    gate.open()
    assert.match(String((await until(client.key, id, (b) => b.status === 'failed')).error), /predict scope/)
  })

  test('after a rotation the new key sees, owns and can cancel the old key’s jobs, which keep running past the grace period', async () => {
    const client = await createKey(held, { limits: parseRules(['1000/1m']) })
    gate.holdAfter(1)
    const texts = Array.from({ length: 20 }, (_, i) => `r${i}`)
    const { id } = (await send(client.key, 'POST', '/v1/jobs', { texts })).json<{ id: string }>()
    const second = (await send(client.key, 'POST', '/v1/jobs', { texts })).json<{ id: string }>().id
    await until(client.key, id, (body) => body.done === 5)
    const rotation = await held.services.keys.rotate(client.id, 0)
    assert.ok(rotation.ok)
    const successor = rotation.value.created.key
    assert.equal((await send(successor, 'GET', `/v1/jobs/${id}`)).statusCode, 200)
    const listed = (await send(successor, 'GET', '/v1/jobs')).json<{ jobs: { id: string }[] }>().jobs.map((j) => j.id)
    assert.deepEqual(listed.sort(), [id, second].sort())
    assert.equal((await send(successor, 'DELETE', `/v1/jobs/${second}`)).statusCode, 200)
    gate.open()
    const finished = await until(successor, id, (b) => b.status !== 'running' && b.status !== 'queued')
    assert.equal(finished.status, 'succeeded')
    assert.equal(finished.done, 20)
    // The old key is refused (grace 0), and a stranger still sees nothing.
    assert.equal((await send(client.key, 'GET', `/v1/jobs/${id}`)).statusCode, 403)
    const stranger = await createKey(held)
    assert.equal((await send(stranger.key, 'GET', `/v1/jobs/${id}`)).statusCode, 404)
  })
})

describe('job backlog caps (issue 16)', () => {
  test('queued texts and bytes per key and per owner: 429 job_backlog_full naming the cap; a refused job costs nothing', async () => {
    const gate = gatedModel(await builtinModel())
    gate.holdAfter(0)
    const app = await buildTestApp({
      clock,
      models: [gate.classifier],
      config: { maxQueuedTextsPerKey: 50, maxQueuedBytesPerKey: 10_000, maxQueuedTextsPerOwner: 80, maxQueuedBytesPerOwner: 1_000_000 },
    })
    try {
      const a = await createKey(app, { owner: 'team-q', limits: parseRules(['100000/1m']) })
      const b = await createKey(app, { owner: 'team-q', limits: parseRules(['100000/1m']) })
      const submit = (key: string, texts: string[]) =>
        app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'x-api-key': key }, payload: { texts } })
      assert.equal(
        (
          await submit(
            a.key,
            Array.from({ length: 40 }, () => 'x'),
          )
        ).statusCode,
        202,
      )
      const tooMany = await submit(
        a.key,
        Array.from({ length: 11 }, () => 'x'),
      )
      assert.equal(tooMany.statusCode, 429)
      assert.equal(tooMany.json<{ code: string }>().code, 'job_backlog_full')
      assert.match(tooMany.json<{ detail: string }>().detail, /key's unfinished jobs past 50 queued texts/)
      assert.ok(tooMany.headers['retry-after'])
      assert.equal(
        (
          await submit(
            a.key,
            Array.from({ length: 3 }, () => 'y'.repeat(4_000)),
          )
        ).json<{ code: string }>().code,
        'job_backlog_full',
      )
      // The owner's cap counts every key of the owner: 40 + 40 fits 80, one more does not.
      assert.equal(
        (
          await submit(
            b.key,
            Array.from({ length: 40 }, () => 'x'),
          )
        ).statusCode,
        202,
      )
      const ownerFull = await submit(b.key, ['x'])
      assert.equal(ownerFull.statusCode, 429)
      assert.match(ownerFull.json<{ detail: string }>().detail, /owner's unfinished jobs past 80 queued texts/)
      // The refused submission was given its unit back: 40 charged of b's 100000.
      const after = await app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-api-key': b.key } })
      assert.match(String(after.headers.ratelimit), /r=99960;/)
    } finally {
      gate.open()
      await app.close()
    }
  })
})

describe('the per-key job cap under concurrent submissions', async () => {
  const reachable = await postgresReachable()
  test('30 submissions at once on PostgreSQL from two instances: exactly --max-jobs-per-key accepted', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    const gate = gatedModel(await builtinModel())
    gate.holdAfter(0)
    const databaseUrl = await freshPostgres()
    const config = { databaseUrl, maxJobsPerKey: 5 }
    const [one, two] = await Promise.all([
      buildTestApp({ models: [gate.classifier], config }),
      buildTestApp({ models: [gate.classifier], config }),
    ])
    try {
      const { key } = await createKey(one, { limits: parseRules(['100000/1m']) })
      const statuses = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 === 0 ? one : two)
            .inject({ method: 'POST', url: '/v1/jobs', headers: { 'x-api-key': key }, payload: { texts: ['x', 'y'] } })
            .then((r) => r.statusCode),
        ),
      )
      assert.equal(statuses.filter((s) => s === 202).length, 5)
      assert.equal(statuses.filter((s) => s === 429).length, 25)
    } finally {
      gate.open()
      await Promise.all([one.close(), two.close()])
    }
  })
})
