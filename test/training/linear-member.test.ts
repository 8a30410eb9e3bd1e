import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bagLogits, type BagExample, type BagWeights } from '../../src/training/bag.js'
import { marginsOf } from '../../src/training/calibration.js'
import { appendLinearColumn, DEFAULT_LINEAR_HYPER_PARAMETERS, linearMargins, trainLinear } from '../../src/training/linear.js'

const example = (label: number, rows: number[]): BagExample => ({ label, rows: Int32Array.from(rows), tokens: rows.length / 2 })

test('NB-LR learns one-sided rows and leaves rows no example used at 0', () => {
  const examples = [example(1, [0, 1]), example(1, [0, 2]), example(0, [3, 1]), example(0, [3, 2])]
  const linear = trainLinear(examples, 6, DEFAULT_LINEAR_HYPER_PARAMETERS, 1)
  assert.ok(linear.scores[0]! > 0 && linear.scores[3]! < 0)
  assert.ok(Math.abs(linear.scores[1]!) < 1e-6, 'a row seen equally often in both classes has a ratio of 0')
  assert.equal(linear.scores[4], 0)
  assert.equal(linear.scores[5], 0)
  const margins = linearMargins(linear, examples)
  examples.forEach((e, i) => assert.equal(margins[i]! > 0 ? 1 : 0, e.label))
})

test('folded into the bag as one more column, the NB-LR member adds exactly its weighted margin', () => {
  const dim = 2
  const rows = 4
  const bag: BagWeights = {
    table: Float32Array.from({ length: (rows + 1) * dim }, (_, i) => (i < rows * dim ? Math.sin(i + 1) : 0)),
    out: Float32Array.from([0.3, -0.2, -0.5, 0.7]),
    outBias: Float32Array.from([0.1, -0.05]),
  }
  const linear = { scores: Float32Array.from([2, -1, 0.5, 0]), bias: 0.25 }
  const [bagWeight, linearWeight] = [0.4, 1.7]
  const folded = appendLinearColumn(bag, linear, bagWeight, linearWeight)
  assert.equal(folded.out.length, 2 * (dim + 1))
  assert.equal(folded.table.length, (rows + 1) * (dim + 1))
  const examples = [example(1, [0, 1]), example(0, [2, 3, 1, 0]), example(1, [3, 3])]
  const expected = marginsOf(bagLogits(bag, examples)).map((m, i) => bagWeight * m + linearWeight * linearMargins(linear, examples)[i]!)
  const actual = marginsOf(bagLogits(folded, examples)).map((m) => bagWeight * m)
  actual.forEach((m, i) => assert.ok(Math.abs(m - expected[i]!) < 1e-5, `${m} vs ${expected[i]}`))
})
