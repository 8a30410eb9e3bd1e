/** `GET /metrics`: scope rule, the public switch, and series that move when requests are made. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, createKey } from '../helper.js'

/** The value of one series (`name` or `name{labels}` exactly as exposed); 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

describe('/metrics', () => {
  let app: FastifyInstance
  let admin: string
  let predictOnly: string

  before(async () => {
    // Flushed only when the test says so, so that the buffer depth is predictable.
    app = await buildTestApp({ config: { auditFlushMs: 60_000 } })
    admin = (await createKey(app, { scopes: ['admin'] })).key
    predictOnly = (await createKey(app, { scopes: ['predict'] })).key
  })
  after(() => app.close())

  const scrape = async () => {
    const response = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': admin } })
    assert.equal(response.statusCode, 200, response.body)
    return response.body
  }

  test('needs the admin scope and answers in the Prometheus text format', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401)
    const denied = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': predictOnly } })
    assert.equal(denied.statusCode, 403)
    assert.equal(denied.json().code, 'insufficient_scope')
    const response = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${admin}` } })
    assert.equal(response.statusCode, 200)
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    for (const name of [
      'infergate_http_requests_total',
      'infergate_http_request_duration_seconds',
      'infergate_rate_limited_total',
      'infergate_model_inference_seconds',
      'infergate_model_batch_size',
      'infergate_model_queue_depth',
      'infergate_key_cache_hit_ratio',
      'infergate_audit_buffer_depth',
      'infergate_audit_write_seconds',
      'infergate_event_loop_lag_seconds',
    ]) {
      assert.match(response.body, new RegExp(`^# TYPE ${name} `, 'm'), name)
    }
  })

  test('series move when requests are made', async () => {
    const { key, id } = await createKey(app)
    await app.services.keys.update(id, { limits: parseRules(['3/1m']) })
    const ok = 'infergate_http_requests_total{method="POST",route="/predict",status="200",outcome="ok"}'
    const limited = 'infergate_http_requests_total{method="POST",route="/predict",status="429",outcome="rate_limited"}'
    const invalid = 'infergate_http_requests_total{method="POST",route="/predict",status="403",outcome="invalid_key"}'
    const latency = 'infergate_http_request_duration_seconds_count{method="POST",route="/predict"}'
    const batches = 'infergate_model_batch_size_count{model="sentiment"}'
    const inference = 'infergate_model_inference_seconds_count{model="sentiment"}'
    const keyLimit = 'infergate_rate_limited_total{reason="key_limit"}'
    const written = 'infergate_audit_records_written_total'
    await app.services.audit!.flush()
    const before = await scrape()

    for (let i = 0; i < 4; i++) await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key } })
    await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': 'igk_' + 'x'.repeat(38) } })
    const pending = await scrape()
    assert.ok(sample(pending, 'infergate_audit_buffer_depth') >= 5, 'records wait in the buffer until the next flush')
    await app.services.audit!.flush()
    const now = await scrape()

    assert.equal(sample(now, ok) - sample(before, ok), 3)
    assert.equal(sample(now, limited) - sample(before, limited), 1)
    assert.equal(sample(now, invalid) - sample(before, invalid), 1)
    assert.equal(sample(now, latency) - sample(before, latency), 5)
    assert.equal(sample(now, batches) - sample(before, batches), 3)
    assert.equal(sample(now, inference) - sample(before, inference), 3)
    assert.equal(sample(now, keyLimit) - sample(before, keyLimit), 1)
    assert.ok(sample(now, written) - sample(before, written) >= 5)
    assert.equal(sample(now, 'infergate_audit_buffer_depth'), 0)
    assert.equal(sample(now, 'infergate_audit_buffer_capacity'), 10_000)
    assert.ok(sample(now, 'infergate_key_cache_hits_total') > sample(before, 'infergate_key_cache_hits_total'))
    const ratio = sample(now, 'infergate_key_cache_hit_ratio')
    assert.ok(ratio > 0 && ratio <= 1, String(ratio))
    assert.match(now, /^infergate_event_loop_lag_seconds\{stat="p99"\} \d/m)
    assert.match(now, /^infergate_model_queue_depth\{model="sentiment"\} 0$/m)
  })

  test('a batcher-shaped observer feeds the model series', async () => {
    const series = 'infergate_model_batch_size_count{model="other"}'
    const before = sample(await scrape(), series)
    app.services.metrics.batchObserver('other')(8, 12.5)
    const text = await scrape()
    assert.equal(sample(text, series) - before, 1)
    assert.equal(sample(text, 'infergate_model_batch_size_sum{model="other"}'), 8)
    assert.equal(sample(text, 'infergate_model_inference_seconds_sum{model="other"}'), 0.0125)
  })

  test('unknown URLs share one route label', async () => {
    await app.inject({ method: 'GET', url: '/wp-admin/setup.php' })
    await app.inject({ method: 'GET', url: '/.env' })
    const text = await scrape()
    assert.equal(sample(text, 'infergate_http_requests_total{method="GET",route="(unmatched)",status="404",outcome="bad_request"}'), 2)
    assert.doesNotMatch(text, /wp-admin|\.env/)
  })

  test('--metrics-public serves it without a key (and without an audit record); apps do not share series', async () => {
    const open = await buildTestApp({ config: { metricsPublic: true } })
    try {
      const response = await open.inject({ method: 'GET', url: '/metrics' })
      assert.equal(response.statusCode, 200)
      assert.doesNotMatch(response.body, /route="\/predict"/, 'a fresh app starts from zero')
      await open.services.audit!.flush()
      assert.equal(await open.services.auditStore.count({ kind: 'request' }), 0)
    } finally {
      await open.close()
    }
  })
})
