/**
 * A remote model's server failing in every way we can cause: what the client gets (status, code,
 * Retry-After, never the upstream's body), the audit record written, the upstream call cut when
 * nobody waits for it any more, the breaker opening and closing, /ready and /metrics, and the
 * upstream credential kept out of logs, audit and listings.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseModelSpecs } from '../../src/models/spec.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import type { Fault, TestUpstream } from '../fixtures/upstreams.js'
import { KSERVE_MODEL, SEED_KEY, UPSTREAM_SECRET_BODY, startUpstream } from '../fixtures/upstreams.js'
import { buildTestApp, createKey } from '../helper.js'
import { auditRecords, capturedLogger, predictText, until } from './remote-helpers.js'

describe('remote model faults', () => {
  let seed: TestUpstream
  let triton: TestUpstream
  let app: FastifyInstance
  let key: { key: string; id: string }
  const { logger, lines: logLines } = capturedLogger()
  let sequence = 0

  before(async () => {
    seed = await startUpstream('seed')
    triton = await startUpstream('kserve-v2')
    app = await buildTestApp({
      logger,
      env: { SEED_API_KEY: SEED_KEY },
      config: {
        predictTimeoutMs: 500,
        models: parseModelSpecs(
          `seed=${seed.url}/predict?protocol=seed&auth-header=X-API-Key&auth-env=SEED_API_KEY&breaker-failures=3&breaker-cooldown=200,` +
            `triton=${triton.url}?protocol=kserve-v2&model=${KSERVE_MODEL}&output=logits&labels=negative,positive&breaker-failures=3&breaker-cooldown=200&max-concurrency=1&max-wait=50`,
        ),
      },
    })
    key = await createKey(app, { limits: parseRules(['100000/1m']) })
  })
  after(async () => {
    await app.close()
    await seed.close()
    await triton.close()
  })

  async function predict(model: string, text = 'a fine film') {
    const requestId = `remote-fault-${++sequence}`
    const response = await app.inject({
      method: 'POST',
      url: `/v1/models/${model}/predict`,
      headers: { 'x-api-key': key.key, 'x-request-id': requestId },
      payload: { text },
    })
    const records = await auditRecords(app, [requestId])
    assert.equal(records.length, 1, 'one audit record per request')
    return { response, record: records[0]! }
  }

  async function healthy(model: string): Promise<void> {
    seed.fault = 'none'
    triton.fault = 'none'
    const { response } = await predict(model)
    assert.equal(response.statusCode, 200, `a success closes ${model}'s breaker again: ${response.body}`)
  }

  const table: [string, Fault, number, string, string | undefined][] = [
    ['upstream answers 500', 'status500', 502, 'upstream_error', undefined],
    ['upstream answers 400 (refuses this input)', 'status400', 502, 'upstream_error', undefined],
    ['upstream answers garbage (HTML)', 'garbage', 502, 'upstream_error', undefined],
    ['upstream answers the wrong shape', 'wrong-shape', 502, 'upstream_error', undefined],
    ['upstream answers bytes that are not HTTP', 'not-http', 502, 'upstream_error', undefined],
    ['upstream drops the connection', 'drop', 502, 'upstream_error', undefined],
    ['upstream overloaded: 503 with Retry-After: 7', 'status503', 503, 'upstream_unavailable', '7'],
    ['upstream rate-limits us: 429 with Retry-After: 7', 'status429', 503, 'upstream_unavailable', '7'],
    ['upstream slower than the deadline', 'hang', 504, 'upstream_timeout', undefined],
  ]
  for (const model of ['seed', 'triton']) {
    for (const [what, fault, status, code, retryAfter] of table) {
      test(`${model}: ${what} → ${status} ${code}${retryAfter ? `, Retry-After ${retryAfter}` : ''}, audited as ${code}`, async () => {
        const upstream = model === 'seed' ? seed : triton
        upstream.fault = fault
        const { response, record } = await predict(model)
        assert.equal(response.statusCode, status)
        const body = response.json<{ code: string; detail: string; request_id: string }>()
        assert.equal(body.code, code)
        assert.equal(response.headers['retry-after'], retryAfter)
        assert.ok(!response.body.includes('SECRET') && !response.body.includes('Traceback'), `upstream body echoed: ${response.body}`)
        assert.match(body.detail, new RegExp(`model '${model}'`))
        assert.deepEqual([record.status, record.outcome, record.model, record.cost, record.texts], [status, code, model, 1, 1])
        if (fault === 'hang') await until(() => upstream.requests.at(-1)!.abandoned, 'the upstream call to be cut at the deadline')
        await healthy(model)
      })
    }
  }

  test('a batch request: every text of the failed call gets the same answer', async () => {
    triton.fault = 'status500'
    const response = await app.inject({
      method: 'POST',
      url: '/v1/models/triton/predict',
      headers: { 'x-api-key': key.key },
      payload: { texts: ['good', 'bad', 'fine'] },
    })
    assert.equal(response.statusCode, 502)
    assert.equal(response.json<{ code: string }>().code, 'upstream_error')
    await healthy('triton')
  })

  test('a client that disconnects cuts the upstream call, and its request is audited as aborted', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    seed.fault = 'hang'
    const before = seed.requests.length
    const socket = net.connect(port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(
      `POST /v1/models/seed/predict?text=leaving HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key.key}\r\nX-Request-Id: remote-gone\r\n\r\n`,
    )
    await until(() => seed.requests.length > before, 'the upstream call')
    socket.destroy()
    await until(() => seed.requests[before]!.abandoned, 'the upstream call to be cut')
    const records = await auditRecords(app, ['remote-gone'])
    assert.deepEqual(
      records.map((r) => [r.status, r.outcome, r.model]),
      [[499, 'aborted', 'seed']],
    )
    await healthy('seed')
  })

  test('the breaker opens after consecutive failures, refuses without calling, reports, and closes after a probe', async () => {
    seed.fault = 'status500'
    for (let i = 0; i < 3; i++) assert.equal((await predict('seed')).response.statusCode, 502)
    const calls = seed.requests.length
    const { response, record } = await predict('seed')
    assert.equal(response.statusCode, 503)
    assert.equal(response.json<{ code: string }>().code, 'upstream_unavailable')
    assert.match(response.headers['retry-after'] as string, /^[1-9]\d*$/)
    assert.equal(record.outcome, 'upstream_unavailable')
    assert.ok(seed.requests.length <= calls + 1, 'an open breaker sends nothing (but its own probe)')

    const ready = await app.inject({ url: '/ready' })
    assert.equal(ready.statusCode, 200, 'a down upstream does not take the instance out of rotation')
    assert.equal(ready.json<{ upstreams: Record<string, string> }>().upstreams.seed === 'closed', false)
    const metrics = (await app.inject({ url: '/metrics', headers: { 'x-api-key': (await createKey(app, { scopes: ['admin'] })).key } }))
      .body
    assert.match(metrics, /infergate_upstream_breaker_opened_total\{model="seed"\} 1/)
    assert.match(metrics, /infergate_upstream_errors_total\{model="seed",kind="status"\} \d+/)
    assert.match(metrics, /infergate_upstream_errors_total\{model="seed",kind="breaker_open"\} 1/)
    assert.match(metrics, /infergate_upstream_request_duration_seconds_count\{model="seed"\} \d+/)
    const listed = (await app.inject({ url: '/v1/models', headers: { 'x-api-key': key.key } })).json<{
      models: { name: string; available?: boolean }[]
    }>()
    assert.equal(listed.models.find((m) => m.name === 'seed')!.available, false)

    seed.fault = 'none'
    await until(
      async () => (await app.inject({ url: '/ready' })).json<{ upstreams: Record<string, string> }>().upstreams.seed === 'closed',
      'a probe to close the breaker',
    )
    assert.equal((await predict('seed')).response.statusCode, 200)
    const metricsAfter = (
      await app.inject({ url: '/metrics', headers: { 'x-api-key': (await createKey(app, { scopes: ['admin'] })).key } })
    ).body
    assert.match(metricsAfter, /infergate_upstream_breaker_state\{model="seed"\} 0/)
    assert.ok(logLines.some((line) => line.includes('remote model \\"seed\\" unavailable')))
    assert.ok(logLines.some((line) => line.includes('remote model \\"seed\\" available again')))
  })

  test('an unreachable upstream: 503 upstream_unavailable with Retry-After', async () => {
    const gone = await startUpstream('seed')
    const url = gone.url
    const other = await buildTestApp({
      env: { K: SEED_KEY },
      config: { models: parseModelSpecs(`gone=${url}/predict?protocol=seed&auth-header=X-API-Key&auth-env=K`) },
    })
    try {
      await gone.close()
      const otherKey = (await createKey(other)).key
      const { status, code, response } = await predictText(other, otherKey, 'gone')
      assert.deepEqual([status, code, response.headers['retry-after']], [503, 'upstream_unavailable', '1'])
    } finally {
      await other.close()
    }
  })

  test('the upstream gets its own credential, never the client’s key, which no log, audit record or listing shows', async () => {
    const admin = await createKey(app, { scopes: ['admin', 'predict'] })
    const before = seed.requests.length
    await app.inject({ method: 'POST', url: '/v1/models/seed/predict?text=hello', headers: { 'x-api-key': admin.key } })
    await app.inject({ method: 'POST', url: '/v1/models/seed/predict?text=hello', headers: { authorization: `Bearer ${key.key}` } })
    for (const request of seed.requests.slice(before)) {
      assert.equal(request.headers['x-api-key'], SEED_KEY)
      assert.equal(request.headers.authorization, undefined)
      const seen = JSON.stringify(request)
      assert.ok(!seen.includes(admin.key) && !seen.includes(key.key), 'an infergate key reached the upstream')
    }
    const listing = (await app.inject({ url: '/v1/models', headers: { 'x-api-key': admin.key } })).body
    await app.services.audit!.flush()
    const audit = JSON.stringify(await app.services.auditStore.list({}, 100_000))
    for (const [where, text] of [
      ['/v1/models', listing],
      ['the audit log', audit],
      ['the logs', logLines.join('')],
    ] as const) {
      assert.ok(!text.includes(SEED_KEY), `the upstream credential appears in ${where}`)
      assert.ok(!text.includes(UPSTREAM_SECRET_BODY), `the upstream's error body appears in ${where}`)
    }
  })
})
