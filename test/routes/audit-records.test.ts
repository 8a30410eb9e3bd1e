/**
 * One audit record per request that reaches authentication, for every outcome, with the right
 * fields — except requests refused before any key was identified, counted in one summary per
 * address, minute and outcome; none for public routes and unknown URLs; admin actions name
 * their actor.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { AuditRecord } from '../../src/audit/record.js'
import { AppError, ErrorCode } from '../../src/errors.js'
import { generateKey, visiblePrefix } from '../../src/keys/format.js'
import { ManualClock } from '../../src/lib/clock.js'
import type { TextClassifier } from '../../src/models/types.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, builtinModel, createKey } from '../helper.js'

/** The built-in model, except for texts that make it fail in a chosen way. */
async function failingModel(): Promise<TextClassifier> {
  const real = await builtinModel()
  return {
    info: real.info,
    close: () => Promise.resolve(),
    classifyBatch(texts) {
      if (texts.includes('boom')) return Promise.reject(new Error('model crashed'))
      if (texts.includes('slow')) return Promise.reject(new AppError(ErrorCode.PredictionTimeout, 'Prediction timed out'))
      if (texts.includes('busy')) return Promise.reject(new AppError(ErrorCode.ServerBusy, 'Server busy'))
      return real.classifyBatch(texts)
    },
  }
}

describe('audit records', () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1, 12))
  let app: FastifyInstance
  const keys: Record<string, { key: string; id: string }> = {}
  let sequence = 0

  before(async () => {
    app = await buildTestApp({ clock, models: [await failingModel()] })
    keys.good = await createKey(app)
    keys.admin = await createKey(app, { scopes: ['admin'] })
    keys.expired = await createKey(app, { expiresAt: clock.now() + 1000 })
    keys.revoked = await createKey(app)
    await app.services.keys.revoke(keys.revoked.id)
    keys.limited = await createKey(app)
    await app.services.keys.update(keys.limited.id, { limits: parseRules(['1/1m']) })
    clock.advance(2000)
  })
  after(() => app.close())

  /** Sends a request with a fresh request id; returns the answer and its audit records. */
  async function send(options: InjectOptions & { key?: string }): Promise<{ status: number; records: AuditRecord[] }> {
    const requestId = `audit-test-${++sequence}`
    const { key, headers, ...rest } = options
    const response = await app.inject({
      method: 'POST',
      url: '/predict?text=a%20fine%20film',
      ...rest,
      headers: { 'x-request-id': requestId, ...(key === undefined ? {} : { 'x-api-key': key }), ...headers },
    })
    await app.services.audit!.flush()
    const records = (await app.services.auditStore.list({ kind: 'request' }, 100_000)).filter((r) => r.requestId === requestId)
    return { status: response.statusCode, records }
  }

  async function one(options: InjectOptions & { key?: string }, status: number, outcome: string): Promise<AuditRecord> {
    const result = await send(options)
    assert.equal(result.status, status)
    assert.equal(result.records.length, 1, `expected one record, got ${result.records.length}`)
    const record = result.records[0]!
    assert.equal(record.outcome, outcome)
    assert.equal(record.status, status)
    assert.equal(record.time, clock.now())
    assert.equal(record.ip, options.remoteAddress ?? '127.0.0.1')
    assert.ok(record.latencyUs !== null && record.latencyUs >= 0)
    return record
  }

  /**
   * Requests refused before any key was identified: no record each; once their minute is over,
   * one `unauthenticated` summary per outcome for the address.
   */
  async function summarized(requests: (InjectOptions & { key?: string })[], remoteAddress: string): Promise<AuditRecord[]> {
    const minute = clock.now() - (clock.now() % 60_000)
    for (const request of requests) assert.deepEqual((await send({ ...request, remoteAddress })).records, [])
    await app.services.audit!.flush()
    const written = () => app.services.auditStore.list({ kind: 'unauthenticated' }, 1000)
    assert.deepEqual(
      (await written()).filter((r) => r.ip === remoteAddress),
      [],
      'nothing is written while the minute lasts',
    )
    clock.advance(60_000)
    await app.services.audit!.flush()
    return (await written()).filter((r) => r.ip === remoteAddress && r.time === minute)
  }

  const detailOf = (record: AuditRecord) => JSON.parse(record.detail!) as { requests: number; routes: Record<string, number> }

  test('ok: key id and prefix, route, model, text count and length, cost', async () => {
    const record = await one({ key: keys.good!.key, payload: { text: 'a wonderful film' }, url: '/predict' }, 200, 'ok')
    assert.equal(record.kind, 'request')
    assert.equal(record.keyId, keys.good!.id)
    assert.equal(record.keyPrefix, visiblePrefix(keys.good!.key))
    assert.equal(record.method, 'POST')
    assert.equal(record.route, '/predict')
    assert.equal(record.model, 'sentiment')
    assert.equal(record.texts, 1)
    assert.equal(record.chars, 'a wonderful film'.length)
    assert.equal(record.cost, 1)
    assert.equal(record.action, null)
  })

  test('missing_key: counted per address and minute, one summary record', async () => {
    const [summary, ...more] = await summarized([{}, {}, { method: 'GET', url: '/v1/models' }], '10.9.0.1')
    assert.deepEqual(more, [])
    assert.equal(summary!.outcome, 'missing_key')
    assert.equal(summary!.status, 401)
    assert.equal(summary!.keyId, null)
    assert.equal(summary!.keyPrefix, null)
    assert.equal(summary!.cost, 0)
    assert.deepEqual(detailOf(summary!).requests, 3)
    assert.deepEqual(detailOf(summary!).routes, { '/predict': 2, '/v1/models': 1 })
  })

  test('invalid_key: malformed and unknown keys are counted together, never stored', async () => {
    const unknown = generateKey()
    const summaries = await summarized([{ key: 'not-a-key' }, { key: unknown }, { key: generateKey() }], '10.9.0.2')
    assert.deepEqual(
      summaries.map((r) => [r.outcome, r.status, detailOf(r).requests]),
      [['invalid_key', 403, 3]],
    )
    assert.ok(!JSON.stringify(summaries).includes(visiblePrefix(unknown)))
  })

  test('expired_key and revoked_key name the key', async () => {
    assert.equal((await one({ key: keys.expired!.key }, 403, 'expired_key')).keyId, keys.expired!.id)
    assert.equal((await one({ key: keys.revoked!.key }, 403, 'revoked_key')).keyId, keys.revoked!.id)
  })

  test('insufficient_scope', async () => {
    assert.equal((await one({ key: keys.admin!.key }, 403, 'insufficient_scope')).keyId, keys.admin!.id)
  })

  test('rate_limited: over the key limit (nothing charged)', async () => {
    await one({ key: keys.limited!.key }, 200, 'ok')
    const record = await one({ key: keys.limited!.key }, 429, 'rate_limited')
    assert.equal(record.keyId, keys.limited!.id)
    assert.equal(record.cost, 0)
  })

  test('rate_limited: an address with too many failed authentications, requests without a key included', async () => {
    const remoteAddress = '10.1.2.3'
    const allowance = app.services.config.authFailLimit.limit
    const failures = Array.from({ length: allowance }, (_, i) => (i % 2 === 0 ? {} : { key: generateKey() }))
    const blocked = await send({ key: keys.good!.key, remoteAddress })
    assert.equal(blocked.status, 200)
    for (const failure of failures) await send({ ...failure, remoteAddress })
    const refused = await send({ key: keys.good!.key, remoteAddress })
    assert.equal(refused.status, 429, 'the guard answers before the key is read')
    assert.deepEqual(refused.records, [])
    clock.advance(60_000)
    await app.services.audit!.flush()
    const summaries = (await app.services.auditStore.list({ kind: 'unauthenticated' }, 1000)).filter((r) => r.ip === remoteAddress)
    assert.deepEqual(summaries.map((r) => [r.outcome, r.status, detailOf(r).requests]).sort(), [
      ['invalid_key', 403, allowance / 2],
      ['missing_key', 401, allowance / 2],
      ['rate_limited', 429, 1],
    ])
  })

  test('bad_request: validation, invalid JSON, wrong media type, too large, empty text', async () => {
    const key = keys.good!.key
    const json = { 'content-type': 'application/json' }
    const cases: [InjectOptions, number][] = [
      [{ url: '/predict' }, 422],
      [{ url: '/predict', payload: '{"text": ', headers: json }, 400],
      [{ url: '/predict', payload: 'text=hi', headers: { 'content-type': 'text/plain' } }, 415],
      [{ url: '/predict', payload: JSON.stringify({ text: 'x'.repeat(2 * 1024 * 1024) }), headers: json }, 413],
      [{ url: '/predict?text=%20%20' }, 400],
    ]
    for (const [options, status] of cases) {
      const record = await one({ ...options, key }, status, 'bad_request')
      assert.equal(record.keyId, keys.good!.id)
    }
  })

  test('timeout, server_busy and error from the model', async () => {
    const key = keys.good!.key
    assert.equal((await one({ key, url: '/predict?text=slow' }, 504, 'timeout')).model, 'sentiment')
    await one({ key, url: '/predict?text=busy' }, 503, 'server_busy')
    const record = await one({ key, url: '/predict?text=boom' }, 500, 'error')
    assert.equal(record.texts, 1)
  })

  test('admin routes are audited too', async () => {
    const record = await one({ key: keys.admin!.key, method: 'GET', url: '/v1/audit?limit=1' }, 200, 'ok')
    assert.equal(record.route, '/v1/audit')
    assert.equal(record.model, null)
  })

  test('public routes and unknown URLs are not audited', async () => {
    for (const url of ['/health', '/ready', '/openapi.json', '/nowhere']) {
      const result = await send({ method: 'GET', url, key: keys.good!.key })
      assert.deepEqual(result.records, [], url)
    }
  })

  test('a key sent as X-Request-Id or through a trusted proxy is neither echoed nor recorded', async () => {
    const proxied = await buildTestApp({ clock, config: { trustProxy: ['127.0.0.1'] } })
    try {
      const { key } = await createKey(proxied)
      const response = await proxied.inject({
        method: 'POST',
        url: '/predict?text=fine',
        headers: { 'x-api-key': key, 'x-request-id': key, 'x-forwarded-for': key },
      })
      assert.equal(response.statusCode, 200)
      assert.notEqual(response.headers['x-request-id'], key)
      assert.ok(!response.body.includes(key))
      await proxied.services.audit!.flush()
      const [record] = await proxied.services.auditStore.list({ kind: 'request' }, 10)
      assert.equal(record!.requestId, response.headers['x-request-id'])
      assert.ok(!JSON.stringify(record).includes(key), JSON.stringify(record))
    } finally {
      await proxied.close()
    }
  })

  test('key creation, update and revocation are recorded with their actor, never the key', async () => {
    const created = await app.services.keys.create({ name: 'by-cli', scopes: ['predict'] }, 'cli')
    await app.services.keys.update(created.record.id, { name: 'renamed' }, keys.admin!.id)
    await app.services.keys.revoke(created.record.id, keys.admin!.id)
    await app.services.audit!.flush()
    const admin = await app.services.auditStore.list({ kind: 'admin', keyId: created.record.id }, 10)
    assert.deepEqual(
      admin.map((r) => [r.action, r.actor]),
      [
        ['key.create', 'cli'],
        ['key.update', keys.admin!.id],
        ['key.revoke', keys.admin!.id],
      ],
    )
    assert.equal(admin[0]!.keyPrefix, created.record.prefix)
    assert.deepEqual(JSON.parse(admin[0]!.detail!), {
      name: 'by-cli',
      owner: 'default',
      scopes: ['predict'],
      expiresAt: null,
      limits: null,
      models: null,
      metadata: null,
    })
    assert.deepEqual(JSON.parse(admin[1]!.detail!), { name: 'renamed' })
    for (const record of admin) assert.ok(!JSON.stringify(record).includes(created.key))
  })
})
