/**
 * How a job is received (issue 16, part 2): its body is read into segments, parsed and
 * validated on the job-body worker and its texts stored in small transactions while the job is
 * marked as being received. Every text must come out where it went in, whatever its script;
 * every bad body must get the answer the route's schema and parser give elsewhere, at no cost;
 * a job half-stored by a failure or by a stopped process must not be left behind or claimed.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { JobStore } from '../../src/jobs/store.js'
import type { JobTexts } from '../../src/jobs/submission.js'
import type { Job } from '../../src/jobs/types.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, createKey } from '../helper.js'

const MAX_BODY = 100_000
// Bodies declared at most 64 KiB are judged on the main thread, larger ones on the job-body worker.
const PATHS = [
  ['judged on the main thread', 0],
  ['judged on the job-body worker', 70_000],
] as const
let app: FastifyInstance
let key: string

before(async () => {
  app = await buildTestApp({ config: { maxJobBodyBytes: MAX_BODY, maxTextLength: 2000 } })
  ;({ key } = await createKey(app, { limits: parseRules(['100000/1m']) }))
})
after(() => app.close())

const unitsLeft = async () =>
  /r=(\d+)/.exec(String((await app.inject({ url: '/v1/jobs', headers: { 'x-api-key': key } })).headers.ratelimit))![1]

function submit(payload: string | Buffer, contentType = 'application/json') {
  return app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'x-api-key': key, 'content-type': contentType }, payload })
}

/** `payload` after `pad` spaces (JSON whitespace), so that it takes the other path; an empty one stays empty. */
const padded = (payload: string | Buffer, pad: number) =>
  payload.length === 0 ? payload : Buffer.concat([Buffer.alloc(pad, ' '), Buffer.from(payload)])

async function finished(id: string): Promise<{ status: string; total: number }> {
  for (let tries = 0; tries < 500; tries++) {
    const job = (await app.inject({ url: `/v1/jobs/${id}`, headers: { 'x-api-key': key } })).json<{ status: string; total: number }>()
    if (job.status !== 'queued' && job.status !== 'running') return job
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`job ${id} did not finish`)
}

for (const [path, pad] of PATHS)
  describe(`receiving a job ${path}`, () => {
    test('texts in every script, emoji and lone surrogates come out at their index, as /predict classifies them', async () => {
      const samples = [
        'a wonderful film',
        'ein furchtbarer Film 😡',
        '素晴らしい映画',
        'pas mal du tout 👍🏽',
        'lone \ud800 surrogate',
        'x\udc00',
        'a dull mess',
      ]
      // More texts than one storage transaction takes (200), and an odd number of them.
      const texts = Array.from({ length: 451 }, (_, i) => `${samples[i % samples.length]} ${i}`)
      const created = await submit(padded(JSON.stringify({ texts }), pad))
      assert.equal(created.statusCode, 202, created.body)
      const { id } = created.json<{ id: string }>()
      assert.deepEqual(await finished(id), { ...(await finished(id)), status: 'succeeded', total: 451 })
      const stored = await app.services.db.kysely
        .selectFrom('job_items')
        .select(['idx', 'result'])
        .where('job_id', '=', id)
        .orderBy('idx')
        .execute()
      assert.deepEqual(
        stored.map((row) => Number(row.idx)),
        texts.map((_, i) => i),
      )
      for (const start of [0, 200, 400]) {
        const page = (await app.inject({ url: `/v1/jobs/${id}?offset=${start}&limit=51`, headers: { 'x-api-key': key } })).json<{
          results: { index: number; scores: Record<string, number> }[]
        }>()
        const direct = await app.inject({
          method: 'POST',
          url: '/predict',
          headers: { 'x-api-key': key },
          payload: { texts: texts.slice(start, start + 51) },
        })
        assert.equal(direct.statusCode, 200, direct.body)
        const expected = direct.json<{ results: { scores: Record<string, number> }[] }>().results.map((p) => p.scores)
        assert.deepEqual(
          page.results.map((r) => r.scores),
          expected,
          `texts ${start}..${start + 50}`,
        )
      }
    })

    test('bad bodies get the same answers as elsewhere, and cost nothing', async () => {
      const before = await unitsLeft()
      const cases: [string | Buffer, number, string, unknown?][] = [
        [Buffer.from([0x7b, 0x22, 0x74, 0xff, 0x22, 0x3a, 0x31, 0x7d]), 400, 'invalid_encoding'],
        ['{"texts": ["a", ', 400, 'invalid_json'],
        ['{"__proto__": {"x": 1}, "texts": ["a"]}', 400, 'invalid_json'],
        ['', 422, 'validation_error', [{ loc: ['body'], type: 'dict_type' }]],
        ['[]', 422, 'validation_error', [{ loc: ['body'], type: 'dict_type' }]],
        ['{}', 422, 'validation_error', [{ loc: ['body', 'texts'], type: 'missing' }]],
        ['{"texts": "one"}', 422, 'validation_error', [{ loc: ['body', 'texts'], type: 'list_type' }]],
        ['{"texts": []}', 422, 'validation_error', [{ loc: ['body', 'texts'], type: 'too_short' }]],
        ['{"texts": ["a", "b", "c", " \\u200b "]}', 422, 'validation_error', [{ loc: ['body', 'texts', 3], type: 'value_error' }]],
        ['{"texts": ["a\\u0000b"]}', 422, 'validation_error', [{ loc: ['body', 'texts', 0], type: 'string_pattern_mismatch' }]],
        [JSON.stringify({ texts: ['x'.repeat(2001)] }), 422, 'validation_error', [{ loc: ['body', 'texts', 0], type: 'string_too_long' }]],
        ['{"texts": ["a"], "model": 5}', 422, 'validation_error', [{ loc: ['body', 'model'], type: 'string_type' }]],
        ['{"texts": ["a"], "model": "nope"}', 404, 'model_not_found'],
        [JSON.stringify({ texts: ['y'.repeat(1000)].concat(Array(100).fill('z'.repeat(1000))) }), 413, 'payload_too_large'],
      ]
      for (const [payload, status, code, issues] of cases) {
        const answer = await submit(padded(payload, pad))
        const label = `${String(payload).slice(0, 40)} -> ${answer.body.slice(0, 200)}`
        assert.equal(answer.statusCode, status, label)
        assert.equal(answer.json<{ code: string }>().code, code, label)
        if (issues) {
          const detail = answer.json<{ detail: { loc: unknown[]; type: string }[] }>().detail
          assert.deepEqual(
            detail.map(({ loc, type }) => ({ loc, type })),
            issues,
            label,
          )
        }
      }
      assert.equal(await unitsLeft(), before, 'no refused body was charged')
    })
  })

describe('receiving a job without Content-Length', () => {
  test('a body sent chunked is read whole (here while small, on the job-body worker past 64 KiB), and refused past the size limit', async () => {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const send = (chunks: string[]) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request(
          { port, method: 'POST', path: '/v1/jobs', headers: { 'x-api-key': key, 'content-type': 'application/json' } },
          (response) => {
            let body = ''
            response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
            response.on('end', () => resolve({ status: response.statusCode!, body }))
          },
        )
        request.on('error', reject)
        for (const chunk of chunks) request.write(chunk)
        request.end()
      })
    // 30 texts (~6 KB) stay small; 300 (~64 KB) pass 64 KiB on the way.
    for (const count of [30, 300]) {
      const texts = Array.from({ length: count }, (_, i) => `chunked text number ${i} ${'é'.repeat(100)}`)
      const json = JSON.stringify({ texts })
      const pieces = json.match(/[\s\S]{1,3333}/g)!
      const accepted = await send(pieces)
      assert.equal(accepted.status, 202, accepted.body)
      assert.equal((await finished((JSON.parse(accepted.body) as { id: string }).id)).total, count)
      const bad = await send([json.slice(0, -1)])
      assert.equal((JSON.parse(bad.body) as { code: string }).code, 'invalid_json', `${count} texts`)
    }
    const tooLarge = await send(Array.from({ length: 110 }, () => 'x'.repeat(1000)))
    assert.equal(tooLarge.status, 413, tooLarge.body)
    assert.equal((JSON.parse(tooLarge.body) as { code: string }).code, 'payload_too_large')
  })
})

describe('bodies received at once', () => {
  test('a key has at most 2 full-size job bodies in flight: the third is refused before it is read, at no cost', async () => {
    const { port } = app.server.address() as AddressInfo
    // Bodies of the largest size (--max-job-body-size is 100,000 here): each reserves a whole slot.
    const json = JSON.stringify({ texts: Array.from({ length: 18 }, (_, i) => `${i} ${'slow upload '.repeat(80)}`) }).padEnd(MAX_BODY, ' ')
    const open = (apiKey: string) => {
      const request = http.request({
        port,
        method: 'POST',
        path: '/v1/jobs',
        headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) },
      })
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        request.on('response', (response) => {
          let body = ''
          response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
          response.on('end', () => resolve({ status: response.statusCode!, body }))
        })
        request.on('error', reject)
      })
      request.write(json.slice(0, 10))
      return { finish: () => request.end(json.slice(10)), answer }
    }
    const before = await unitsLeft()
    const first = open(key)
    await new Promise((resolve) => setTimeout(resolve, 100))
    // Small bodies reserve only their size: they go through next to a large one.
    const small = await Promise.all(Array.from({ length: 3 }, () => submit(JSON.stringify({ texts: ['small'] }))))
    assert.deepEqual(
      small.map((answer) => answer.statusCode),
      [202, 202, 202],
    )
    const afterSmall = await unitsLeft()
    const second = open(key)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const third = open(key)
    third.finish()
    const refused = await third.answer
    assert.equal(refused.status, 429, refused.body)
    assert.equal((JSON.parse(refused.body) as { code: string }).code, 'too_many_jobs')
    assert.equal(await unitsLeft(), afterSmall, 'the refused upload cost nothing')
    assert.equal(Number(before) - Number(afterSmall), 3)
    const otherKey = (await createKey(app, { limits: parseRules(['100/1m']) })).key
    const other = open(otherKey)
    other.finish()
    assert.equal((await other.answer).status, 202, 'another key is not held back')
    first.finish()
    second.finish()
    assert.deepEqual([(await first.answer).status, (await second.answer).status], [202, 202])
  })
})

test('uploads whose client goes away mid-body give their slot back', async () => {
  const { port } = app.server.address() as AddressInfo
  for (let i = 0; i < 5; i++) {
    const socket = net.connect(port, '127.0.0.1')
    await once(socket, 'connect')
    socket.write(
      `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"texts": [`,
    )
    await new Promise((resolve) => setTimeout(resolve, 30))
    socket.destroy()
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  const answer = await app.inject({
    method: 'POST',
    url: '/v1/jobs',
    headers: { 'x-api-key': key },
    payload: { texts: ['after the aborted ones'] },
  })
  assert.equal(answer.statusCode, 202, answer.body)
})

describe('a job half-stored', () => {
  const job = (id: string, createdAt: number): Job => ({
    id,
    keyId: 'key_none',
    bytes: 3,
    model: 'sentiment',
    status: 'queued',
    total: 500,
    done: 0,
    error: null,
    createdAt,
    startedAt: null,
    finishedAt: null,
  })
  const scope = { keyIds: ['key_none'], owner: 'default' }
  const count = async (table: 'jobs' | 'job_items', id: string) =>
    Number(
      (
        await app.services.db.kysely
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where(table === 'jobs' ? 'id' : 'job_id', '=', id)
          .executeTakeFirstOrThrow()
      ).n,
    )

  test('a failure while its texts are stored removes the job and every text stored so far', async () => {
    const store = new JobStore(app.services.db)
    const failing: JobTexts = {
      count: 500,
      bytes: 3,
      slice: async (start, end) => {
        if (start >= 400) throw new Error('the disk is full')
        return Array.from({ length: end - start }, (_, i) => `text ${start + i}`)
      },
    }
    await assert.rejects(
      store.insert(job('job_failing', Date.now()), failing, scope, () => undefined),
      /the disk is full/,
    )
    assert.equal(await count('jobs', 'job_failing'), 0)
    assert.equal(await count('job_items', 'job_failing'), 0)
  })

  test('a job still being received is never claimed; one a stopped process left is purged after an hour', async () => {
    const store = new JobStore(app.services.db)
    const now = Date.now()
    const receiving = {
      not_before: Number.MAX_SAFE_INTEGER,
      lease_owner: null,
      lease_until: null,
      started_at: null,
      finished_at: null,
      error: null,
    }
    for (const [id, createdAt] of [
      ['job_receiving_now', now],
      ['job_abandoned', now - 3_600_001],
    ] as const) {
      const { keyId, createdAt: _c, startedAt: _s, finishedAt: _f, ...rest } = job(id, createdAt)
      await app.services.db.kysely
        .insertInto('jobs')
        .values({ ...rest, key_id: keyId, created_at: createdAt, ...receiving })
        .execute()
      await app.services.db.kysely.insertInto('job_items').values({ job_id: id, idx: 0, text: 'stored', result: null }).execute()
    }
    // Other tests' jobs may still be queued: whatever is claimed, it is never a job being received.
    const claimed: string[] = []
    for (let next = await store.claim('test-worker', now, 30_000); next; next = await store.claim('test-worker', now, 30_000))
      claimed.push(next.id)
    for (const id of claimed) await store.release(id, 'test-worker')
    assert.ok(!claimed.some((id) => id.startsWith('job_receiving') || id === 'job_abandoned'), claimed.join())
    assert.equal(await store.purge(now, 86_400_000), 1)
    assert.equal(await count('jobs', 'job_abandoned'), 0)
    assert.equal(await count('job_items', 'job_abandoned'), 0)
    assert.equal(await count('jobs', 'job_receiving_now'), 1)
  })
})
