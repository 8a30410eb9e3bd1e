import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSentimentModel, sentimentField } from '../../src/models/sentiment.js'
import { parseModelList, parseModelSpec, parseModelSpecs } from '../../src/models/spec.js'

test('two-class positive/negative models in any case are sentiment models', () => {
  assert.equal(isSentimentModel(['negative', 'positive']), true)
  assert.equal(isSentimentModel(['NEGATIVE', 'POSITIVE']), true)
  assert.equal(isSentimentModel(['negative', 'neutral', 'positive']), false)
  assert.equal(isSentimentModel(['spam', 'ham']), false)
  assert.deepEqual(sentimentField(['NEGATIVE', 'POSITIVE'], 'POSITIVE'), { sentiment: 'positive' })
  assert.deepEqual(sentimentField(['spam', 'ham'], 'spam'), {})
})

test('--model specs: name, path and batching options', () => {
  assert.deepEqual(parseModelSpec('sst2=./models/sst2'), { name: 'sst2', path: './models/sst2' })
  assert.deepEqual(parseModelSpec('big=/m/big?max-batch=8&max-wait=5&max-queue=100'), { name: 'big', path: '/m/big', maxBatch: 8, maxWaitMs: 5, maxQueue: 100 })
  for (const bad of ['noequals', 'Caps=/x', '=/x', 'a=', 'a=/x?max-batch=0', 'a=/x?speed=9', 'a=/x?max-wait=abc']) {
    assert.throws(() => parseModelSpec(bad), Error, bad)
  }
  assert.throws(() => parseModelSpecs('a=/x\na=/y'), /two models are named "a"/)
  assert.deepEqual(parseModelList('a, b,a'), ['a', 'b'])
  assert.throws(() => parseModelList(' , '), /at least one/)
})
