import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Batcher } from '../../src/models/batcher.js'
import type { Classification } from '../../src/models/types.js'

/** A model function that records the batches it receives and answers with the text's length. */
function recordingModel(delayMs = 5) {
  const batches: string[][] = []
  const run = async (texts: string[]): Promise<Classification[]> => {
    batches.push(texts)
    await new Promise((resolve) => setTimeout(resolve, delayMs))
    return texts.map((text) => ({ label: String(text.length), confidence: 1, scores: { [String(text.length)]: 1 } }))
  }
  return { batches, run }
}

test('concurrent submissions are gathered into batches no larger than maxBatch', async () => {
  const model = recordingModel()
  const batcher = new Batcher(model.run, { maxBatch: 8, maxWaitMs: 0 })
  const texts = Array.from({ length: 50 }, (_, i) => 'x'.repeat(i + 1))
  const results = await Promise.all(texts.map((text) => batcher.submit([text])))
  assert.ok(model.batches.length < 50, `expected batching, got ${model.batches.length} calls`)
  assert.ok(model.batches.every((batch) => batch.length <= 8))
  assert.equal(model.batches.flat().length, 50)
  results.forEach(([result], i) => assert.equal(result!.label, String(i + 1)))
})

test('every caller gets exactly its own results, in order, for multi-text submissions', async () => {
  const model = recordingModel(1)
  const batcher = new Batcher(model.run, { maxBatch: 5, maxWaitMs: 1 })
  const requests = Array.from({ length: 20 }, (_, i) => Array.from({ length: (i % 4) + 1 }, (_, j) => 'y'.repeat(i * 10 + j + 1)))
  const answers = await Promise.all(requests.map((texts) => batcher.submit(texts)))
  answers.forEach((answer, i) => assert.deepEqual(answer.map((r) => r.label), requests[i]!.map((t) => String(t.length))))
})

test('a lone request is sent at once without waiting for company', async () => {
  const model = recordingModel(0)
  const batcher = new Batcher(model.run, { maxBatch: 64, maxWaitMs: 0 })
  const started = performance.now()
  await batcher.submit(['solo'])
  assert.deepEqual(model.batches, [['solo']])
  assert.ok(performance.now() - started < 1000)
})

test('a failing model call rejects every caller of that batch, and the next batch runs', async () => {
  let calls = 0
  const batcher = new Batcher(async (texts) => {
    calls++
    if (calls === 1) throw new Error('boom')
    return texts.map(() => ({ label: 'ok', confidence: 1, scores: { ok: 1 } }))
  }, { maxBatch: 4, maxWaitMs: 0 })
  const first = await Promise.allSettled([batcher.submit(['a']), batcher.submit(['b'])])
  assert.deepEqual(first.map((r) => r.status), ['rejected', 'rejected'])
  const [second] = await batcher.submit(['c'])
  assert.equal(second!.label, 'ok')
  assert.equal(batcher.depth, 0)
})
