/** `GET /v1/audit` and `GET /v1/usage`: filters, paging, validation and scope rules. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { AuditRecordJson } from '../../src/audit/json.js'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp } from '../helper.js'

const T0 = Date.UTC(2026, 5, 1, 10, 0, 0)
const HOUR = 3_600_000

interface AuditPage {
  records: AuditRecordJson[]
  next_after: number | null
}

describe('/v1/audit and /v1/usage', () => {
  const clock = new ManualClock(T0)
  let app: FastifyInstance
  const keys: Record<'admin' | 'alice' | 'bob', { key: string; id: string }> = {} as never

  async function key(name: string, scopes: ('admin' | 'predict')[]) {
    const created = await app.services.keys.create({ name, scopes, limits: parseRules(['100000/1m']) }, 'cli')
    return { key: created.key, id: created.record.id }
  }
  const predict = (who: string, text = 'fine') =>
    app.inject({ method: 'POST', url: `/predict?text=${text}`, headers: who ? { 'x-api-key': who } : {} })
  const get = (url: string, who = keys.admin.key) => app.inject({ method: 'GET', url, headers: { 'x-api-key': who } })

  before(async () => {
    app = await buildTestApp({ clock })
    keys.admin = await key('admin', ['admin'])
    keys.alice = await key('alice', ['predict'])
    keys.bob = await key('bob', ['predict'])
    await predict(keys.alice.key)
    await predict(keys.alice.key, 'good')
    await predict(keys.bob.key)
    await predict('') // missing_key
    clock.set(T0 + HOUR + 60_000)
    await predict(keys.alice.key)
    await predict(keys.alice.key, '%20') // bad_request (blank text)
    clock.set(T0 + 24 * HOUR + 5_000)
    await predict(keys.bob.key)
    await app.services.audit!.flush()
    // The tests' own calls are audited too: they happen days later, outside the ranges read.
    clock.set(T0 + 5 * 24 * HOUR)
  })
  after(() => app.close())

  describe('GET /v1/audit', () => {
    test('admin reads every record in sequence order, admin actions included', async () => {
      const response = await get('/v1/audit')
      assert.equal(response.statusCode, 200, response.body)
      const { records, next_after } = response.json<AuditPage>()
      assert.equal(next_after, null)
      assert.deepEqual(
        records.map((r) => r.seq),
        records.map((_, i) => i + 1),
      )
      assert.deepEqual(
        records.slice(0, 3).map((r) => [r.action, r.actor]),
        [
          ['key.create', 'cli'],
          ['key.create', 'cli'],
          ['key.create', 'cli'],
        ],
      )
      const first = records.find((r) => r.kind === 'request')!
      assert.equal(first.key_id, keys.alice.id)
      assert.equal(first.time, new Date(T0).toISOString())
      assert.equal(first.route, '/predict')
      assert.equal(first.texts, 1)
      assert.equal(first.chars, 4)
      assert.match(first.hash, /^[0-9a-f]{64}$/)
      assert.equal(typeof first.latency_ms, 'number')
      for (const k of Object.values(keys)) assert.ok(!response.body.includes(k.key), 'a key leaked into /v1/audit')
    })

    test('filters: key, outcome, kind, since and until (ISO, epoch ms or a duration ago)', async () => {
      const seqsOf = async (query: string) => {
        const response = await get(`/v1/audit?${query}`)
        assert.equal(response.statusCode, 200, `${query}: ${response.body}`)
        return response.json<AuditPage>().records
      }
      const alice = await seqsOf(`key=${keys.alice.id}&kind=request`)
      assert.equal(alice.length, 4)
      assert.ok(alice.every((r) => r.key_id === keys.alice.id && r.kind === 'request'))
      assert.equal((await seqsOf(`key=${keys.alice.id}`)).length, 5, 'her key.create record too')
      assert.deepEqual(
        (await seqsOf('outcome=missing_key')).map((r) => r.outcome),
        ['missing_key'],
      )
      assert.deepEqual((await seqsOf(`outcome=bad_request&key=${keys.alice.id}`)).length, 1)
      const secondHour = await seqsOf(`since=${new Date(T0 + HOUR).toISOString()}&until=${T0 + 2 * HOUR}&kind=request`)
      assert.equal(secondHour.length, 2)
      // A duration means that long ago: the clock stands at T0 + 5 days, so 4d is T0 + 1 day.
      const dayTwo = await seqsOf(`since=4d&until=${T0 + 2 * 24 * HOUR}&kind=request`)
      assert.deepEqual(
        dayTwo.map((r) => r.key_id),
        [keys.bob.id],
      )
      assert.deepEqual(await seqsOf('since=2026-06-03&until=2026-06-04'), [])
    })

    test('paging with limit and after visits every record once', async () => {
      const range = `until=${T0 + 2 * 24 * HOUR}`
      const all = (await get(`/v1/audit?limit=1000&${range}`)).json<AuditPage>().records.map((r) => r.seq)
      const seen: number[] = []
      let after: number | null = 0
      let pages = 0
      while (after !== null) {
        const page: AuditPage = (await get(`/v1/audit?limit=3&after=${after}&${range}`)).json<AuditPage>()
        assert.ok(page.records.length <= 3)
        seen.push(...page.records.map((r) => r.seq))
        after = page.next_after
        pages++
      }
      assert.deepEqual(seen, all)
      assert.equal(pages, Math.ceil(all.length / 3))
    })

    test('order=desc pages newest first with before, visiting every record once', async () => {
      const range = `until=${T0 + 2 * 24 * HOUR}`
      const all = (await get(`/v1/audit?limit=1000&${range}`)).json<AuditPage>().records.map((r) => r.seq)
      const seen: number[] = []
      let before: number | null = null
      do {
        const cursor: string = before === null ? '' : `&before=${before}`
        const page = (await get(`/v1/audit?order=desc&limit=3${cursor}&${range}`)).json<AuditPage & { next_before: number | null }>()
        assert.equal(page.next_after, null)
        seen.push(...page.records.map((r) => r.seq))
        before = page.next_before
      } while (before !== null)
      assert.deepEqual(seen, [...all].reverse())
      const filtered = (await get(`/v1/audit?order=desc&kind=request&key=${keys.alice.id}&limit=2`)).json<AuditPage>().records
      assert.ok(filtered[0]!.seq > filtered[1]!.seq)
      assert.ok(filtered.every((r) => r.key_id === keys.alice.id && r.kind === 'request'))
      assert.equal((await get('/v1/audit?order=newest')).statusCode, 422)
    })

    test('bad parameters get a clear 422 naming the parameter', async () => {
      const cases: [string, string][] = [
        ['limit=0', 'limit'],
        ['limit=1001', 'limit'],
        ['limit=ten', 'limit'],
        ['since=yesterday', 'since'],
        ['until=2026-13-45', 'until'],
        ['outcome=great', 'outcome'],
        ['kind=other', 'kind'],
        ['after=-1', 'after'],
        ['key=igk_notakeyid', 'key'],
        ['colour=blue', 'colour'],
      ]
      for (const [query, param] of cases) {
        const response = await get(`/v1/audit?${query}`)
        assert.equal(response.statusCode, 422, `${query}: ${response.body}`)
        const body = response.json()
        assert.equal(body.code, 'validation_error')
        assert.ok(JSON.stringify(body.detail).includes(param), `${query}: ${response.body}`)
      }
    })

    test('a key without the admin scope gets 403 insufficient_scope', async () => {
      const response = await get('/v1/audit', keys.alice.key)
      assert.equal(response.statusCode, 403)
      assert.equal(response.json().code, 'insufficient_scope')
    })
  })

  describe('GET /v1/usage', () => {
    type Row = {
      key_id: string
      key_prefix: string
      bucket_start: string
      requests: number
      cost: number
      outcomes: Record<string, number>
    }
    const usage = async (query: string, who = keys.admin.key) => {
      const range = query.includes('until=') ? '' : `&until=${T0 + 2 * 24 * HOUR}`
      const response = await get(`/v1/usage?${query}${range}`, who)
      assert.equal(response.statusCode, 200, `${query}: ${response.body}`)
      return response.json<{ bucket: string; rows: Row[]; next_after: string | null }>()
    }

    test('per key and hour: counts by outcome and total cost', async () => {
      const { bucket, rows } = await usage('bucket=hour&limit=1000')
      assert.equal(bucket, 'hour')
      const table = rows.filter((r) => r.key_id !== keys.admin.id).map((r) => [r.bucket_start, r.key_id, r.requests, r.cost, r.outcomes])
      const expected: [string, string, number, number, Record<string, number>][] = [
        [new Date(T0).toISOString(), keys.alice.id, 2, 2, { ok: 2 }],
        [new Date(T0).toISOString(), keys.bob.id, 1, 1, { ok: 1 }],
        // The blank text is refused before the limiter: it costs nothing.
        [new Date(T0 + HOUR).toISOString(), keys.alice.id, 2, 1, { ok: 1, bad_request: 1 }],
        [new Date(T0 + 24 * HOUR).toISOString(), keys.bob.id, 1, 1, { ok: 1 }],
      ]
      // Rows come ordered by bucket, then key id (byte order, as the database compares).
      const order = (row: (typeof expected)[number]) => `${row[0]} ${row[1]}`
      expected.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
      assert.deepEqual(table, expected)
      assert.ok(rows.every((r) => r.key_prefix.startsWith('igk_')))
    })

    test('per day, with a time range and a key filter', async () => {
      const { rows } = await usage(`bucket=day&key=${keys.alice.id}`)
      assert.deepEqual(
        rows.map((r) => [r.bucket_start, r.requests]),
        [[new Date(Date.UTC(2026, 5, 1)).toISOString(), 4]],
      )
      const later = await usage(`bucket=day&since=${T0 + HOUR}&until=${T0 + 25 * HOUR}&key=${keys.bob.id}`)
      assert.deepEqual(
        later.rows.map((r) => [r.bucket_start, r.requests]),
        [[new Date(Date.UTC(2026, 5, 2)).toISOString(), 1]],
      )
    })

    test('a key without admin sees only itself, and may not name another key', async () => {
      const own = await usage('bucket=day', keys.alice.key)
      assert.ok(own.rows.length > 0)
      assert.ok(own.rows.every((r) => r.key_id === keys.alice.id))
      assert.deepEqual((await usage(`bucket=day&key=${keys.alice.id}`, keys.alice.key)).rows.length, own.rows.length)
      const other = await get(`/v1/usage?key=${keys.bob.id}`, keys.alice.key)
      assert.equal(other.statusCode, 403)
      assert.equal(other.json().code, 'insufficient_scope')
    })

    test('paging with limit and the next_after cursor', async () => {
      const all = (await usage('bucket=minute&limit=1000')).rows
      const seen: Row[] = []
      let cursor: string | null = ''
      while (cursor !== null) {
        const page = await usage(`bucket=minute&limit=2${cursor ? `&after=${cursor}` : ''}`)
        assert.ok(page.rows.length <= 2)
        seen.push(...page.rows)
        cursor = page.next_after
      }
      assert.deepEqual(seen, all)
    })

    test('bad parameters get 422', async () => {
      for (const query of ['bucket=week', 'after=yesterday', 'since=soon', 'limit=0']) {
        assert.equal((await get(`/v1/usage?${query}`)).statusCode, 422, query)
      }
    })
  })
})
