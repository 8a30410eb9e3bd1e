import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, createKey } from '../helper.js'

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

  test('a job uses its key budget as it runs and waits for capacity instead of failing', async () => {
    const paced = await createKey(app)
    await app.services.keys.update(paced.id, { limits: parseRules(['20/1m']) })
    const { id } = (await call('POST', '/v1/jobs', paced.key, { texts: Array.from({ length: 25 }, (_, i) => `text ${i}`) })).json()
    // Creating and polling a job cost nothing; the job takes the 20 units and waits.
    const waiting = await waitFor(id, paced.key, (b) => b.done === 20)
    assert.equal(waiting.status, 'running')
    await delay(300)
    assert.equal((await call('GET', `/v1/jobs/${id}`, paced.key)).json().done, 20)
    const refused = await call('POST', '/predict?text=hello', paced.key)
    assert.equal(refused.statusCode, 429)
    clock.advance(61_000)
    const finished = await waitFor(id, paced.key, (b) => b.status === 'succeeded')
    assert.equal(finished.done, 25)
  })

  test('cancel drops the rest; a finished job cannot be cancelled', async () => {
    const slow = await createKey(app)
    await app.services.keys.update(slow.id, { limits: parseRules(['5/1m']) })
    const { id } = (await call('POST', '/v1/jobs', slow.key, { texts: Array.from({ length: 20 }, (_, i) => `t${i}`) })).json()
    await waitFor(id, slow.key, (b) => b.done === 5)
    const cancelled = await call('DELETE', `/v1/jobs/${id}`, slow.key)
    assert.equal(cancelled.statusCode, 200)
    assert.equal(cancelled.json().status, 'cancelled')
    const again = await call('DELETE', `/v1/jobs/${id}`, slow.key)
    assert.equal(again.statusCode, 409)
    assert.equal(again.json().code, 'conflict')
    const page = (await call('GET', `/v1/jobs/${id}`, slow.key)).json()
    assert.equal(page.status, 'cancelled')
    assert.equal(page.results.length, 5)
    const rows = await app.services.db.kysely
      .selectFrom('job_items')
      .select('text')
      .where('job_id', '=', id)
      .where('text', 'is not', null)
      .execute()
    assert.equal(rows.length, 0, 'inputs of a cancelled job are not kept')
  })

  test('validation: empty list, non-strings, too many texts, blank text, unknown model, too many jobs', async () => {
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
    const busy = await createKey(app)
    await app.services.keys.update(busy.id, { limits: parseRules(['3/1m']) })
    for (let i = 0; i < 3; i++)
      assert.equal((await call('POST', '/v1/jobs', busy.key, { texts: Array.from({ length: 10 }, () => 'x') })).statusCode, 202)
    const tooMany = await call('POST', '/v1/jobs', admin.key, { texts: ['x'] })
    assert.equal(tooMany.statusCode, 202)
    const refused = await call('POST', '/v1/jobs', busy.key, { texts: ['x'] })
    assert.equal(refused.statusCode, 429)
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
