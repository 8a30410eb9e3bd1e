/**
 * Signed webhooks end to end: a real receiver checks every signature; events for revocation,
 * rotation, expiry and a broken audit chain; retries after failures; delivery after a restart;
 * several instances on one PostgreSQL deliver each event once.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { withKeys } from '../../src/cli/keys-common.js'
import { ManualClock } from '../../src/lib/clock.js'
import type { Receiver } from '../fixtures/webhook-receiver.js'
import { eventually, startReceiver } from '../fixtures/webhook-receiver.js'
import { buildTestApp, createKey, tempDir } from '../helper.js'
import { TEST_DATABASE_URL, freshPostgres, postgresReachable } from '../postgres.js'

const SECRET = `whsec_${randomBytes(32).toString('base64')}`
const KEY_SHAPE = /igk_[0-9A-Za-z]{38}/
const env = { ...process.env, INFERGATE_WEBHOOK_SECRET: SECRET }
const fast = { webhookPollMs: 50, webhookRetryMs: 50 }

function webhookApp(url: string, config: Record<string, unknown> = {}, clock?: ManualClock): Promise<FastifyInstance> {
  return buildTestApp({ env, ...(clock && { clock }), config: { webhookUrls: [url], ...fast, ...config } })
}

describe('webhooks', () => {
  let receiver: Receiver
  let app: FastifyInstance
  let admin: { key: string; id: string }
  const call = (method: 'POST' | 'DELETE', url: string, body?: object) =>
    app.inject({ method, url, headers: { 'x-api-key': admin.key }, ...(body && { payload: body }) })
  const ofType = (type: string) => receiver.received.filter((r) => r.type === type)

  before(async () => {
    receiver = await startReceiver(SECRET)
    app = await webhookApp(receiver.url, { creditsLowFraction: 0.5 })
    admin = await createKey(app, { scopes: ['admin'], name: 'root' })
  })
  after(async () => {
    await app.close()
    await receiver.close()
  })

  test('a revoked key: key.revoked arrives signed, with the key id and prefix and never the key', async () => {
    const target = await createKey(app, { name: 'client' })
    assert.equal((await call('DELETE', `/v1/keys/${target.id}`)).statusCode, 200)
    await eventually(() => ofType('key.revoked').length === 1, 'key.revoked')
    const [event] = ofType('key.revoked')
    assert.equal(event!.signatureFailure, undefined)
    assert.equal(event!.libraryFailure, undefined)
    assert.match(event!.id, /^msg_/)
    assert.equal(event!.payload.data.key_id, target.id)
    assert.equal(event!.payload.data.key_prefix, target.key.slice(0, 10))
    assert.ok(!event!.body.includes(target.key) && !KEY_SHAPE.test(event!.body), event!.body)
  })

  test('a rotated key: key.rotated names the new key by id and prefix only', async () => {
    const target = await createKey(app, { name: 'rotating' })
    const rotated = await call('POST', `/v1/keys/${target.id}/rotate`, { grace: '1h' })
    assert.equal(rotated.statusCode, 201, rotated.body)
    const newKey = rotated.json<{ key: string; id: string }>()
    await eventually(() => ofType('key.rotated').length === 1, 'key.rotated')
    const [event] = ofType('key.rotated')
    assert.equal(event!.signatureFailure, undefined)
    assert.equal(event!.libraryFailure, undefined)
    assert.equal(event!.payload.data.key_id, target.id)
    assert.equal(event!.payload.data.rotated_to, newKey.id)
    assert.ok(!event!.body.includes(newKey.key) && !KEY_SHAPE.test(event!.body), event!.body)
  })

  test('a receiver that fails gets the event again with backoff; it is delivered once it answers 2xx', async () => {
    const deliveries = () => app.services.db.kysely.selectFrom('webhook_deliveries').select('delivered_at').execute()
    await eventually(() => receiver.received.length === 2, 'the earlier events')
    // The receiver keeps an event before it answers; the server marks it delivered after the answer.
    await eventually(async () => (await deliveries()).every((row) => row.delivered_at !== null), 'the earlier events marked delivered')
    receiver.failNext(2)
    const before = receiver.attempts()
    const target = await createKey(app, { name: 'retried' })
    await call('DELETE', `/v1/keys/${target.id}`)
    await eventually(() => receiver.received.some((r) => r.payload.data.key_id === target.id), 'the retried delivery')
    assert.equal(receiver.attempts() - before, 3)
    const row = await app.services.db.kysely
      .selectFrom('webhook_deliveries')
      .innerJoin('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id')
      .select(['attempts', 'delivered_at', 'last_error'])
      .where('payload', 'like', `%${target.id}%`)
      .executeTakeFirstOrThrow()
    assert.equal(Number(row.attempts), 3)
    assert.notEqual(row.delivered_at, null)
    assert.equal(row.last_error, null)
  })

  test('a key revoked by the CLI on the same store: the server sends key.revoked', async () => {
    const target = await createKey(app, { name: 'revoked-by-cli' })
    const result = await withKeys(app.services.config, (keys) => keys.revoke(target.id, 'cli'))
    assert.equal(result.ok, true)
    await eventually(() => receiver.received.some((r) => r.payload.data.key_id === target.id), 'the CLI revocation')
    const event = receiver.received.find((r) => r.payload.data.key_id === target.id)!
    assert.equal(event.type, 'key.revoked')
    assert.equal(event.payload.data.actor, 'cli')
  })

  test('a broken audit chain found by POST /v1/audit/verify sends audit.verify_failed', async () => {
    await app.services.audit!.flush()
    await app.services.db.kysely.updateTable('audit_log').set({ status: 299 }).where('seq', '=', 1).execute()
    const report = (await call('POST', '/v1/audit/verify')).json<{ intact: boolean }>()
    assert.equal(report.intact, false)
    await eventually(() => ofType('audit.verify_failed').length === 1, 'audit.verify_failed')
    const data = ofType('audit.verify_failed')[0]!.payload.data
    assert.equal(data.seq, 1)
    assert.equal(data.kind, 'edited')
    assert.equal(data.checked_by, admin.id)
  })

  test('credits.low once the balance falls below --credits-low-fraction of its refill, credits.exhausted once it reaches 0; each once', async () => {
    const created = await app.services.keys.create({
      name: 'metered',
      scopes: ['predict'],
      credits: { remaining: 10, refill: { amount: 10, everyMs: 86_400_000 } },
    })
    const predict = () => app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': created.key }, payload: { text: 'fine' } })
    // 10 units: the 5th leaves 5 (not below half), the 6th leaves 4 (below), the 10th leaves 0.
    const statuses = []
    for (let i = 0; i < 12; i++) statuses.push((await predict()).statusCode)
    assert.deepEqual(statuses, [...Array(10).fill(200), 429, 429])
    await eventually(() => ofType('credits.exhausted').length === 1 && ofType('credits.low').length === 1, 'both credits events')
    const [low] = ofType('credits.low')
    const [exhausted] = ofType('credits.exhausted')
    assert.equal(low!.signatureFailure, undefined)
    assert.deepEqual(
      [low!.payload.data.key_id, low!.payload.data.remaining, low!.payload.data.refill],
      [created.record.id, 4, { amount: 10, every: '1d' }],
    )
    assert.deepEqual([exhausted!.payload.data.key_id, exhausted!.payload.data.remaining], [created.record.id, 0])
    assert.match(String(exhausted!.payload.data.next_refill_at), /^\d{4}-\d\d-\d\dT/)
    for (const event of [low!, exhausted!]) assert.ok(!event.body.includes(created.key) && !KEY_SHAPE.test(event.body), event.body)
    // The refused requests crossed no line: still one of each.
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.deepEqual([ofType('credits.low').length, ofType('credits.exhausted').length], [1, 1])
  })
})

describe('webhooks: expiry notices under a moved clock', () => {
  test('key.expiring 7 days and 1 day before, once each', async () => {
    const clock = new ManualClock()
    const receiver = await startReceiver(SECRET, () => Math.floor(clock.now() / 1000))
    const app = await webhookApp(receiver.url, {}, clock)
    try {
      const key = await createKey(app, { name: 'short-lived', expiresAt: clock.now() + 3 * 86_400_000 })
      await createKey(app, { name: 'long-lived', expiresAt: clock.now() + 30 * 86_400_000 })
      clock.advance(61_000) // keys are looked at once a minute
      app.services.webhooks!.nudge()
      await eventually(() => receiver.received.length === 1, 'the 7-day notice')
      clock.advance(61_000) // the next look finds nothing new
      app.services.webhooks!.nudge()
      clock.advance(2.5 * 86_400_000)
      app.services.webhooks!.nudge()
      await eventually(() => receiver.received.length === 2, 'the 1-day notice')
      const notices = receiver.received.map((r) => [r.type, r.payload.data.key_id, r.payload.data.notice])
      assert.deepEqual(notices, [
        ['key.expiring', key.id, '7d'],
        ['key.expiring', key.id, '1d'],
      ])
      assert.ok(receiver.received.every((r) => r.signatureFailure === undefined))
    } finally {
      await app.close()
      await receiver.close()
    }
  })
})

describe('webhooks: durable outbox', () => {
  test('an event recorded while the receiver is down is delivered by the next start on the same store', async () => {
    // The same store for both starts: one data directory, or one PostgreSQL schema on the PostgreSQL pass.
    const store = TEST_DATABASE_URL ? { databaseUrl: await freshPostgres() } : { dataDir: tempDir() }
    const down = 'http://127.0.0.1:9/hooks' // discard port: refused at once
    const first = await webhookApp(down, { ...store, webhookRetryMs: 60_000 })
    const target = await createKey(first, { name: 'revoked-while-down' })
    await first.services.keys.revoke(target.id, 'cli')
    const attempted = async () =>
      Number((await first.services.db.kysely.selectFrom('webhook_deliveries').select('attempts').executeTakeFirst())?.attempts ?? 0)
    for (let tries = 0; (await attempted()) === 0; tries++) {
      assert.ok(tries < 500, 'the first attempt was never made')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await first.close()

    const receiver = await startReceiver(SECRET)
    const second = await webhookApp(receiver.url, store)
    try {
      await eventually(() => receiver.received.some((r) => r.payload.data.key_id === target.id), 'delivery after the restart')
    } finally {
      await second.close()
      await receiver.close()
    }
  })

  test('--webhook-url without the secret in the environment stops the start, naming the variable', async () => {
    await assert.rejects(
      buildTestApp({ env: {}, config: { webhookUrls: ['http://127.0.0.1:9/'] } }),
      /set the environment variable INFERGATE_WEBHOOK_SECRET/,
    )
  })
})

describe('webhooks: two instances on one PostgreSQL', async () => {
  const reachable = await postgresReachable()
  test('each of 20 events reaches the receiver exactly once', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    const databaseUrl = await freshPostgres()
    const receiver = await startReceiver(SECRET)
    const [a, b] = await Promise.all([webhookApp(receiver.url, { databaseUrl }), webhookApp(receiver.url, { databaseUrl })])
    try {
      const keys = await Promise.all(Array.from({ length: 20 }, (_, i) => createKey(a, { name: `k${i}` })))
      await Promise.all(keys.map((key, i) => (i % 2 === 0 ? a : b).services.keys.revoke(key.id, 'cli')))
      await eventually(() => receiver.received.length >= 20, '20 deliveries')
      await new Promise((resolve) => setTimeout(resolve, 300)) // time for a duplicate to show
      const ids = receiver.received.map((r) => r.id)
      assert.equal(ids.length, 20)
      assert.equal(new Set(ids).size, 20)
    } finally {
      await Promise.all([a.close(), b.close()])
      await receiver.close()
    }
  })
})
