/**
 * The overload policy: while the audit buffer is full, requests that would need a record get
 * 503 service_unavailable before any work, memory stays bounded, and the next batch says how
 * many were refused.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ManualClock } from '../../src/lib/clock.js'
import type { TextClassifier } from '../../src/models/types.js'
import { buildTestApp, builtinModel, createKey } from '../helper.js'

test('a full audit buffer refuses requests with 503 before any work, then reports them in one record', async () => {
  const clock = new ManualClock(Date.UTC(2026, 5, 1))
  const real = await builtinModel()
  let modelCalls = 0
  const counting: TextClassifier = {
    ...real,
    classifyBatch: (texts) => {
      modelCalls++
      return real.classifyBatch(texts)
    },
  }
  // Nothing is flushed until the test says so: the store is, in effect, stalled.
  const app = await buildTestApp({ clock, models: [counting], config: { auditBuffer: 5, auditFlushMs: 60_000 } })
  try {
    const { key } = await createKey(app) // its admin record takes one place
    const predict = () => app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key } })
    for (let i = 0; i < 4; i++) assert.equal((await predict()).statusCode, 200)
    assert.equal(app.services.audit!.depth, 5)
    const callsBefore = modelCalls

    const refusedFrom = clock.now()
    for (let i = 0; i < 1000; i++) {
      const response = await predict()
      assert.equal(response.statusCode, 503)
      assert.deepEqual(response.json(), {
        detail: 'The audit log is behind; try again shortly.',
        code: 'service_unavailable',
        request_id: response.headers['x-request-id'],
      })
      assert.equal(response.headers['retry-after'], '1')
      if (i === 499) clock.advance(2000)
    }
    assert.equal(modelCalls, callsBefore, 'refused requests must not reach the model')
    assert.equal(app.services.audit!.depth, 5, 'the buffer does not grow while refusing')
    assert.match((await app.services.metrics.scrape()).body, /^infergate_audit_refused_total 1000$/m)
    assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'public routes are not refused')

    await app.services.audit!.flush()
    assert.equal((await predict()).statusCode, 200, 'requests are admitted again once the log caught up')
    await app.services.audit!.flush()
    const summary = await app.services.auditStore.list({ kind: 'unaudited' }, 10)
    assert.equal(summary.length, 1)
    assert.equal(summary[0]!.status, 503)
    assert.equal(summary[0]!.outcome, 'server_busy')
    assert.deepEqual(JSON.parse(summary[0]!.detail!), { refused: 1000, from: refusedFrom, to: refusedFrom + 2000 })
    assert.equal(await app.services.auditStore.count({ kind: 'request' }), 5)
  } finally {
    await app.close()
  }
})
