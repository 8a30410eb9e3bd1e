import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AppError, ErrorCode } from '../../src/errors.js'
import type { BatcherOptions } from '../../src/models/batcher.js'
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
  return { batches, run, seen: () => batches.flat() }
}

const options = (overrides: Partial<BatcherOptions> = {}): BatcherOptions => ({ maxBatch: 8, maxWaitMs: 0, maxQueue: 1000, ...overrides })
const classify = (batcher: Batcher, texts: string[]) => batcher.submit(texts).results

test('concurrent submissions are gathered into batches no larger than maxBatch', async () => {
  const model = recordingModel()
  const batcher = new Batcher(model.run, options())
  const texts = Array.from({ length: 50 }, (_, i) => 'x'.repeat(i + 1))
  const results = await Promise.all(texts.map((text) => classify(batcher, [text])))
  assert.ok(model.batches.length < 50, `expected batching, got ${model.batches.length} calls`)
  assert.ok(model.batches.every((batch) => batch.length <= 8))
  assert.equal(model.seen().length, 50)
  results.forEach(([result], i) => assert.equal(result!.label, String(i + 1)))
})

test('every caller gets exactly its own results, in order, for multi-text submissions', async () => {
  const model = recordingModel(1)
  const batcher = new Batcher(model.run, options({ maxBatch: 5, maxWaitMs: 1 }))
  const requests = Array.from({ length: 20 }, (_, i) => Array.from({ length: (i % 4) + 1 }, (_, j) => 'y'.repeat(i * 10 + j + 1)))
  const answers = await Promise.all(requests.map((texts) => classify(batcher, texts)))
  answers.forEach((answer, i) => assert.deepEqual(answer.map((r) => r.label), requests[i]!.map((t) => String(t.length))))
})

test('a lone request is sent at once without waiting for company', async () => {
  const model = recordingModel(0)
  const batcher = new Batcher(model.run, options({ maxBatch: 64 }))
  await classify(batcher, ['solo'])
  assert.deepEqual(model.batches, [['solo']])
})

test('a failing model call rejects every caller of that batch, and the next batch runs', async () => {
  let calls = 0
  const batcher = new Batcher(async (texts) => {
    calls++
    if (calls === 1) throw new Error('boom')
    return texts.map(() => ({ label: 'ok', confidence: 1, scores: { ok: 1 } }))
  }, options({ maxBatch: 4 }))
  const first = await Promise.allSettled([classify(batcher, ['a']), classify(batcher, ['b'])])
  assert.deepEqual(first.map((r) => r.status), ['rejected', 'rejected'])
  const [second] = await classify(batcher, ['c'])
  assert.equal(second!.label, 'ok')
  assert.equal(batcher.depth, 0)
})

test('a full queue refuses at once with 503 server_busy and a Retry-After', async () => {
  const model = recordingModel(30)
  const batcher = new Batcher(model.run, options({ maxBatch: 2, maxQueue: 4 }))
  const running = classify(batcher, ['a', 'b']) // taken by the model at once
  await new Promise((resolve) => setImmediate(resolve))
  const queued = classify(batcher, ['c', 'd', 'e', 'f']) // fills the queue
  assert.throws(() => batcher.submit(['g']), (error: unknown) => {
    assert.ok(error instanceof AppError)
    assert.equal(error.statusCode, 503)
    assert.equal(error.code, ErrorCode.ServerBusy)
    assert.match(error.headers['retry-after']!, /^\d+$/)
    return true
  })
  await Promise.all([running, queued])
  assert.deepEqual(model.seen(), ['a', 'b', 'c', 'd', 'e', 'f'])
})

test('past its deadline a submission gets 504 and its queued texts never reach the model', async () => {
  const model = recordingModel(60)
  const batcher = new Batcher(model.run, options({ maxBatch: 1 }))
  const first = classify(batcher, ['first'])
  const late = batcher.submit(['late'], { deadline: Date.now() + 20 })
  await assert.rejects(late.results, (error: unknown) => error instanceof AppError && error.code === ErrorCode.PredictionTimeout && error.statusCode === 504)
  await first
  await new Promise((resolve) => setTimeout(resolve, 80))
  assert.deepEqual(model.seen(), ['first'])
  assert.equal(batcher.depth, 0)
})

test('a cancelled submission is dropped from the queue and frees its place', async () => {
  const model = recordingModel(40)
  const batcher = new Batcher(model.run, options({ maxBatch: 1, maxQueue: 2 }))
  const first = classify(batcher, ['first'])
  await new Promise((resolve) => setImmediate(resolve))
  const gone = batcher.submit(['gone-1', 'gone-2'])
  assert.equal(batcher.depth, 2)
  gone.cancel(new Error('client left'))
  await assert.rejects(gone.results, /client left/)
  assert.equal(batcher.depth, 0)
  const next = classify(batcher, ['next'])
  await Promise.all([first, next])
  assert.deepEqual(model.seen(), ['first', 'next'])
})

/** A model whose calls stay in flight until the test answers them, recording each call's signal. */
function gatedModel() {
  const calls: { texts: string[]; signal: AbortSignal; answer: () => void }[] = []
  const run = (texts: string[], signal: AbortSignal): Promise<Classification[]> =>
    new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })
      calls.push({ texts, signal, answer: () => resolve(texts.map((text) => ({ label: text, confidence: 1, scores: { [text]: 1 } }))) })
    })
  return { calls, run }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))

test('with concurrency N, at most N model calls are in flight and the next starts as one ends', async () => {
  const model = gatedModel()
  const batcher = new Batcher(model.run, options({ maxBatch: 1, concurrency: 3 }))
  const answers = ['a', 'b', 'c', 'd', 'e'].map((text) => classify(batcher, [text]))
  await turn()
  assert.deepEqual(
    model.calls.map((call) => call.texts),
    [['a'], ['b'], ['c']],
  )
  assert.equal(batcher.depth, 2)
  model.calls[1]!.answer()
  await answers[1]
  await turn()
  assert.deepEqual(model.calls[3]!.texts, ['d'])
  assert.equal(model.calls.length, 4)
  for (const call of model.calls) call.answer()
  await turn()
  model.calls[4]!.answer()
  assert.deepEqual(
    (await Promise.all(answers)).map(([result]) => result!.label),
    ['a', 'b', 'c', 'd', 'e'],
  )
})

test('a model call is aborted once every caller waiting for it has given up, not before', async () => {
  const model = gatedModel()
  const batcher = new Batcher(model.run, options({ maxBatch: 8 }))
  const first = batcher.submit(['one'])
  const second = batcher.submit(['two'])
  await turn()
  assert.equal(model.calls.length, 1)
  const { signal } = model.calls[0]!
  first.cancel(new Error('first left'))
  await assert.rejects(first.results, /first left/)
  assert.equal(signal.aborted, false, 'the second caller still waits for the call')
  second.cancel(new Error('second left'))
  await assert.rejects(second.results, /second left/)
  assert.equal(signal.aborted, true)
  assert.match((signal.reason as Error).message, /second left/)
})

test('a deadline passing while the model computes gets the model’s late error; while queued, prediction_timeout', async () => {
  const model = gatedModel()
  const late = new AppError(ErrorCode.UpstreamTimeout, 'the server was too slow')
  const batcher = new Batcher(model.run, options({ maxBatch: 1 }), { lateError: () => late })
  const computing = batcher.submit(['computing'], { deadline: Date.now() + 20 })
  // Its deadline passes first, while the first text still holds the model.
  const queued = batcher.submit(['queued'], { deadline: Date.now() + 5 })
  await assert.rejects(queued.results, (error: unknown) => error instanceof AppError && error.code === ErrorCode.PredictionTimeout)
  await assert.rejects(computing.results, (error) => error === late)
  assert.equal(model.calls[0]!.signal.aborted, true, 'the call nobody waits for is aborted')
  await turn()
  assert.deepEqual(
    model.calls.map((call) => call.texts),
    [['computing']],
    'the queued text never reached the model',
  )
})
