import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fitStackingWeights, stackedLogLoss } from '../../src/training/calibration.js'
import { seededRandom } from '../../src/training/random.js'

/** Two components' margins on 400 examples: a confident one and a weaker one, both mostly right. */
function margins(scale: number): { margins: Float64Array[]; labels: number[] } {
  const random = seededRandom(3)
  const labels: number[] = []
  const [a, b] = [new Float64Array(400), new Float64Array(400)]
  for (let i = 0; i < 400; i++) {
    const label = random() < 0.5 ? 1 : 0
    const sign = label === 1 ? 1 : -1
    labels.push(label)
    a[i] = scale * sign * 12 * (random() * 2 - 0.3)
    b[i] = scale * sign * 3 * (random() * 2 - 0.5)
  }
  return { margins: [a, b], labels }
}

test('stacking weights: the same fit whatever the scale of the margins (a full Newton step used to diverge)', () => {
  const base = margins(1)
  const weights = fitStackingWeights(base.margins, base.labels)
  const loss = stackedLogLoss(base.margins, weights, base.labels)
  assert.ok(
    weights.every((w) => w > 0 && w < 2),
    `weights ${weights.join(', ')}`,
  )
  for (const scale of [3, 10, 30]) {
    const scaled = margins(scale)
    const fitted = fitStackingWeights(scaled.margins, scaled.labels)
    // Margins k times larger need weights k times smaller (within 1 %: the tiny ridge) and lose nothing.
    fitted.forEach((w, i) =>
      assert.ok(Math.abs(w * scale - weights[i]!) < 0.01 * weights[i]!, `scale ${scale}: ${fitted.join(', ')} vs ${weights.join(', ')}`),
    )
    assert.ok(Math.abs(stackedLogLoss(scaled.margins, fitted, scaled.labels) - loss) < 1e-6)
  }
})

test('stacking weights never end worse than the equal weights they start from', () => {
  const { margins: m, labels } = margins(30)
  const fitted = stackedLogLoss(m, fitStackingWeights(m, labels), labels)
  assert.ok(fitted <= stackedLogLoss(m, [0.5, 0.5], labels))
})
