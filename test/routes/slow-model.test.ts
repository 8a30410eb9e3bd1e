/**
 * Serving under a deliberately slow model (an ONNX graph whose cost the test controls):
 * the event loop stays free, batches form, every caller gets its own answer, the queue is
 * bounded, deadlines hold, and a client that leaves has its queued texts dropped.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { loadHfModel } from '../../src/models/hf/load.js'
import type { Classification, TextClassifier } from '../../src/models/types.js'
import { writeTinyHfModel } from '../fixtures/hf-model.js'
import { buildTestApp, createKey, tempDir } from '../helper.js'

const WORDS = ['good', 'bad', 'movie', 'plot', 'great', 'awful']
const LABELS = ['negative', 'positive']

/** The real ONNX model, with a record of the batches it was given (instrumentation, not a stub). */
function recording(model: TextClassifier) {
  const batches: string[][] = []
  const state = { finished: 0 }
  const classifier: TextClassifier = {
    info: { ...model.info, name: 'slow' },
    classifyBatch: async (texts: readonly string[]): Promise<Classification[]> => {
      batches.push([...texts])
      const results = await model.classifyBatch(texts)
      state.finished++
      return results
    },
    close: () => model.close(),
  }
  return { classifier, batches, state, seen: () => batches.flat() }
}

async function slowApp(slowness: number, config: Record<string, unknown> = {}) {
  const files = writeTinyHfModel(path.join(tempDir(), `slow-${slowness}`), { words: WORDS, labels: LABELS, slowness })
  const model = recording(await loadHfModel(files.dir, { name: 'slow' }))
  const app = await buildTestApp({ models: [model.classifier], config: { defaultModel: 'slow', ...config } })
  const { key } = await createKey(app, { limits: [{ name: 'minute', limit: 100_000, windowMs: 60_000 }] })
  return { app, key, model, files }
}

const predict = (app: FastifyInstance, key: string, text: string) =>
  app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': key }, payload: { text } })

describe('under a slow model', () => {
  let fixture: Awaited<ReturnType<typeof slowApp>>
  before(async () => {
    fixture = await slowApp(300, { maxBatch: 16 })
  })
  after(async () => {
    await fixture.app.close()
    await fixture.model.classifier.close()
  })

  test('/health answers while the model is computing: inference never blocks the event loop', async () => {
    const { batches, state } = fixture.model
    const calls = batches.length
    const finished = state.finished
    const prediction = predict(fixture.app, fixture.key, 'good movie')
    while (batches.length === calls) await new Promise((resolve) => setImmediate(resolve))
    const health = await fixture.app.inject({ method: 'GET', url: '/health' })
    assert.equal(health.statusCode, 200)
    assert.equal(state.finished, finished, 'the model call had to finish before /health could answer')
    assert.equal((await prediction).statusCode, 200)
  })

  test('100 concurrent mixed-length requests: batches form and every caller gets its own answer', async () => {
    fixture.model.batches.length = 0
    const texts = Array.from(
      { length: 100 },
      (_, i) => Array.from({ length: (i % 7) + 1 }, (_, j) => WORDS[(i + j) % WORDS.length]).join(' ') + ` #${i}`,
    )
    const answers = await Promise.all(texts.map((text) => predict(fixture.app, fixture.key, text)))
    const direct = await fixture.model.classifier.classifyBatch(texts)
    answers.forEach((answer, i) => {
      assert.equal(answer.statusCode, 200, answer.body)
      const body = answer.json()
      assert.equal(body.text, texts[i])
      for (const label of LABELS) assert.ok(Math.abs(body.scores[label] - direct[i]!.scores[label]!) < 1e-6, `answer ${i} is not its own`)
    })
    const sizes = fixture.model.batches.slice(0, -1).map((batch) => batch.length)
    assert.ok(sizes.length < 100, `${sizes.length} model calls for 100 requests: no batching`)
    assert.ok(Math.max(...sizes) > 1 && Math.max(...sizes) <= 16, `batch sizes ${sizes.join(',')}`)
  })
})

describe('backpressure and time limits', () => {
  test('a full queue answers 503 server_busy at once, with Retry-After', async () => {
    const { app, key, model } = await slowApp(300, { maxBatch: 2, maxQueue: 4 })
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => predict(app, key, `good ${i}`)))
      const statuses = answers.map((a) => a.statusCode)
      assert.ok(
        statuses.every((s) => s === 200 || s === 503),
        statuses.join(','),
      )
      const busy = answers.filter((a) => a.statusCode === 503)
      assert.ok(busy.length >= 10, `only ${busy.length} refused`)
      for (const answer of busy) {
        assert.equal(answer.json().code, 'server_busy')
        assert.match(String(answer.headers['retry-after']), /^\d+$/)
      }
      assert.equal(model.seen().length, statuses.filter((s) => s === 200).length, 'refused texts reached the model')
    } finally {
      await app.close()
      await model.classifier.close()
    }
  })

  test('past the deadline: 504 prediction_timeout, and the queued text never reaches the model', async () => {
    const { app, key, model } = await slowApp(3000, { maxBatch: 1, predictTimeoutMs: 50 })
    try {
      const first = predict(app, key, 'good first')
      while (model.batches.length === 0) await new Promise((resolve) => setImmediate(resolve))
      const late = await predict(app, key, 'bad late')
      assert.equal(late.statusCode, 504)
      assert.equal(late.json().code, 'prediction_timeout')
      assert.equal((await first).statusCode, 504)
      await new Promise((resolve) => setTimeout(resolve, 400))
      assert.ok(!model.seen().includes('bad late'), 'a timed-out text was computed')
    } finally {
      await app.close()
      await model.classifier.close()
    }
  })

  test('a client that disconnects has its queued work dropped, not computed', async () => {
    const { app, key, model } = await slowApp(3000, { maxBatch: 1 })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as { port: number }
    const send = (text: string) => {
      const request = http.request({
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/predict',
        headers: { 'x-api-key': key, 'content-type': 'application/json' },
      })
      request.on('error', () => {})
      request.end(JSON.stringify({ text }))
      return request
    }
    try {
      const busy = await new Promise<number>((resolve) => send('good busy').on('response', (res) => resolve(res.statusCode ?? 0)))
      assert.equal(busy, 200)
      const holding = new Promise<number>((resolve) => send('great holding').on('response', (res) => resolve(res.statusCode ?? 0)))
      const until = async (condition: () => boolean) => {
        while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2))
      }
      await until(() => model.seen().includes('great holding'))
      const served = app.services.models.get('slow')!
      const leaving = send('awful leaving')
      leaving.on('response', () => {})
      // Leave once the text waits in the queue behind the running batch.
      await until(() => served.queueDepth() === 1)
      leaving.destroy()
      await until(() => served.queueDepth() === 0)
      assert.equal(await holding, 200)
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.ok(model.seen().includes('great holding'))
      assert.ok(!model.seen().includes('awful leaving'), `the model computed the text of a client that left: ${model.seen().join(' | ')}`)
    } finally {
      await app.close()
      await model.classifier.close()
    }
  })
})
