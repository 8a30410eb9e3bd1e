import assert from 'node:assert/strict'
import { test } from 'node:test'
import { seededRandom, shuffleInPlace } from '../../src/training/random.js'
import { sgdSteps } from '../../src/training/sgd.js'

test('sgdSteps visits every example once per epoch in a fresh shuffled order, the rate decaying linearly to 0', () => {
  const examples = ['a', 'b', 'c', 'd', 'e']
  const seen: [string, number][] = []
  sgdSteps(examples, { epochs: 3, learningRate: 0.5 }, seededRandom(7), (example, rate) => seen.push([example, rate]))
  assert.equal(seen.length, 15)
  seen.forEach(([, rate], step) => assert.equal(rate, 0.5 * (1 - step / 15)))
  // The orders are the ones the bag and NB-LR loops drew before the helper existed (so models stay byte for byte).
  const random = seededRandom(7)
  const order = [0, 1, 2, 3, 4]
  const expected = [0, 1, 2].flatMap(() => shuffleInPlace(order, random).map((i) => examples[i]!))
  assert.deepEqual(
    seen.map(([example]) => example),
    expected,
  )
  for (let epoch = 0; epoch < 3; epoch++) assert.deepEqual(expected.slice(epoch * 5, epoch * 5 + 5).sort(), examples)
})
