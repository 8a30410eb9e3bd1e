/** `GET /v1/usage/summary` and `POST /v1/audit/verify`: what the dashboard's overview and audit page read. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { AuditRecordJson } from '../../src/audit/json.js'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp } from '../helper.js'

const T0 = Date.UTC(2026, 5, 1, 10, 0, 0)
const MINUTE = 60_000

interface KeyTotals {
  key_id: string
  key_name: string | null
  requests: number
  rejections: number
}
interface Summary {
  since: string
  until: string
  bucket: string
  series: { bucket_start: string; requests: number; outcomes: Record<string, number> }[]
  latency_ms: { count: number; p50: number | null; p99: number | null }
  top_keys: { by_requests: KeyTotals[]; by_rejections: KeyTotals[] }
}

describe('GET /v1/usage/summary', () => {
  const clock = new ManualClock(T0)
  let app: FastifyInstance
  const keys: Record<'admin' | 'busy' | 'limited', { key: string; id: string }> = {} as never

  async function key(name: string, scopes: ('admin' | 'predict')[], limits = ['100000/1m']) {
    const created = await app.services.keys.create({ name, scopes, limits: parseRules(limits) }, 'cli')
    return { key: created.key, id: created.record.id }
  }
  const predict = (who: string) => app.inject({ method: 'POST', url: '/predict?text=fine', headers: who ? { 'x-api-key': who } : {} })
  const get = (url: string, who = keys.admin.key) => app.inject({ method: 'GET', url, headers: { 'x-api-key': who } })

  before(async () => {
    app = await buildTestApp({ clock })
    keys.admin = await key('admin', ['admin'])
    keys.busy = await key('busy', ['predict'])
    keys.limited = await key('limited', ['predict'], ['1/1h'])
    // Minute 0: busy x3, no key x1. Minute 2: limited x3 (1 ok, 2 rate-limited), busy reads the audit (insufficient scope).
    for (let i = 0; i < 3; i++) await predict(keys.busy.key)
    await predict('')
    clock.set(T0 + 2 * MINUTE + 1_000)
    for (let i = 0; i < 3; i++) await predict(keys.limited.key)
    await get('/v1/audit', keys.busy.key)
    await app.services.audit!.flush()
    clock.set(T0 + 10 * MINUTE)
  })
  after(() => app.close())

  const summary = async (query = `since=${T0}&until=${T0 + 5 * MINUTE}`) => {
    const response = await get(`/v1/usage/summary?${query}`)
    assert.equal(response.statusCode, 200, response.body)
    return response.json<Summary>()
  }

  test('requests per minute by outcome, requests without a known key included', async () => {
    const { series, bucket, since, until } = await summary()
    assert.equal(bucket, 'minute')
    assert.equal(since, new Date(T0).toISOString())
    assert.equal(until, new Date(T0 + 5 * MINUTE).toISOString())
    assert.deepEqual(series, [
      { bucket_start: new Date(T0).toISOString(), requests: 4, outcomes: { ok: 3, missing_key: 1 } },
      { bucket_start: new Date(T0 + 2 * MINUTE).toISOString(), requests: 4, outcomes: { ok: 1, rate_limited: 2, insufficient_scope: 1 } },
    ])
  })

  test('top keys by volume and by rejections', async () => {
    const { top_keys } = await summary()
    assert.deepEqual(
      top_keys.by_requests.map((k) => [k.key_id, k.key_name, k.requests, k.rejections]),
      [
        [keys.busy.id, 'busy', 4, 1],
        [keys.limited.id, 'limited', 3, 2],
      ],
    )
    assert.deepEqual(
      top_keys.by_rejections.map((k) => [k.key_id, k.rejections]),
      [
        [keys.limited.id, 2],
        [keys.busy.id, 1],
      ],
    )
    const one = await summary(`since=${T0}&until=${T0 + 5 * MINUTE}&top=1`)
    assert.equal(one.top_keys.by_requests.length, 1)
  })

  test('p50 and p99 are nearest-rank percentiles of the recorded latencies', async () => {
    const audit = await get(`/v1/audit?kind=request&since=${T0}&until=${T0 + 5 * MINUTE}&limit=1000`)
    const latencies = audit
      .json<{ records: AuditRecordJson[] }>()
      .records.map((r) => r.latency_ms!)
      .sort((a, b) => a - b)
    const { latency_ms } = await summary()
    assert.equal(latency_ms.count, latencies.length)
    assert.equal(latency_ms.p50, latencies[Math.ceil(0.5 * latencies.length) - 1])
    assert.equal(latency_ms.p99, latencies[Math.ceil(0.99 * latencies.length) - 1])
  })

  test('default range is the last hour; an empty range has no series and null percentiles', async () => {
    const recent = await summary('')
    assert.equal(recent.until, new Date(T0 + 10 * MINUTE).toISOString())
    assert.equal(recent.since, new Date(T0 + 10 * MINUTE - 60 * MINUTE).toISOString())
    const empty = await summary(`since=${T0 - 60 * MINUTE}&until=${T0}`)
    assert.deepEqual(empty.series, [])
    assert.deepEqual(empty.latency_ms, { count: 0, p50: null, p99: null })
    assert.deepEqual(empty.top_keys, { by_requests: [], by_rejections: [] })
  })

  test('admin scope only; bad ranges and too many buckets are 422', async () => {
    const refused = await get('/v1/usage/summary', keys.busy.key)
    assert.equal(refused.statusCode, 403)
    assert.equal(refused.json().code, 'insufficient_scope')
    for (const query of ['since=yesterday', 'bucket=week', 'top=0', 'extra=1', 'since=30d&bucket=minute']) {
      const response = await get(`/v1/usage/summary?${query}`)
      assert.equal(response.statusCode, 422, `${query}: ${response.body}`)
      assert.equal(response.json().code, 'validation_error')
    }
    assert.equal((await get('/v1/usage/summary?since=30d&bucket=hour')).statusCode, 200)
  })
})

describe('POST /v1/audit/verify', () => {
  let app: FastifyInstance
  let admin: string

  before(async () => {
    app = await buildTestApp()
    admin = (await app.services.keys.create({ name: 'admin', scopes: ['admin', 'predict'] }, 'cli')).key
    for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': admin } })
    await app.services.audit!.flush()
  })
  after(() => app.close())

  const verify = (query = '') => app.inject({ method: 'POST', url: `/v1/audit/verify${query}`, headers: { 'x-api-key': admin } })

  test('an intact chain: the same report as `audit verify --json`', async () => {
    const response = await verify()
    assert.equal(response.statusCode, 200, response.body)
    const report = response.json()
    const head = await app.services.auditStore.head()
    assert.deepEqual(report, {
      intact: true,
      records: head.seq,
      head: { seq: head.seq, hash: head.hash, time: new Date(head.time!).toISOString() },
    })
    assert.ok(report.records >= 4, 'the key.create record and three requests')
  })

  test('expect_head in a JSON body is checked like the query; unknown fields are refused, never ignored', async () => {
    const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/audit/verify', headers: { 'x-api-key': admin }, payload })
    const unknownHead = 'a'.repeat(64)
    const anchored = await post({ expect_head: unknownHead })
    assert.equal(anchored.statusCode, 200)
    assert.equal(anchored.json<{ intact: boolean; break: { kind: string } }>().break.kind, 'truncated')
    const typo = await post({ expect_haed: unknownHead })
    assert.equal(typo.statusCode, 422)
    assert.deepEqual(typo.json<{ detail: { loc: string[] }[] }>().detail[0]!.loc, ['body', 'expect_haed'])
    assert.equal((await post({ expect_head: 'nothex' })).statusCode, 422)
    const both = await app.inject({
      method: 'POST',
      url: `/v1/audit/verify?expect_head=${'b'.repeat(64)}`,
      headers: { 'x-api-key': admin },
      payload: { expect_head: unknownHead },
    })
    assert.equal(both.statusCode, 422)
  })

  test('an edited record is named, with how the chain broke', async () => {
    await app.services.audit!.flush()
    await app.services.db.kysely.updateTable('audit_log').set({ status: 201 }).where('seq', '=', 2).execute()
    const report = (await verify()).json()
    assert.equal(report.intact, false)
    assert.equal(report.records, 1)
    assert.equal(report.break.seq, 2)
    assert.equal(report.break.kind, 'edited')
    assert.match(report.break.explanation, /hash/)
  })

  test('expect_head must be a hash; keys without the admin scope are refused', async () => {
    assert.equal((await verify('?expect_head=nothex')).statusCode, 422)
    const predictOnly = (await app.services.keys.create({ name: 'p', scopes: ['predict'] }, 'cli')).key
    const refused = await app.inject({ method: 'POST', url: '/v1/audit/verify', headers: { 'x-api-key': predictOnly } })
    assert.equal(refused.statusCode, 403)
    assert.equal(refused.json().code, 'insufficient_scope')
  })
})
