/**
 * A third, linear member of the stack: logistic regression over naive-Bayes-scaled word and
 * bigram features (NB-LR, after Wang & Manning 2012's NBSVM). It reads the same rows as the bag
 * (`bag.ts`), each counted once per occurrence and divided by the number of tokens, so its
 * margin is `bias + Σ_row s_row / tokens` with one number per row: at export it becomes one more
 * column of the bag's table (`appendLinearColumn`) and costs nothing extra to serve.
 *
 * The naive-Bayes ratio `r = log((p / |p|₁) / (q / |q|₁))` (p, q: how many positive / negative
 * examples hold the row, plus `alpha`) gives rare, one-sided n-grams a strong prior, which the
 * bag's factorised SGD does not; that is where its errors differ.
 */
import type { BagExample, BagWeights } from './bag.js'
import { seededRandom } from './random.js'
import { sgdSteps } from './sgd.js'

export interface LinearHyperParameters {
  /** Naive-Bayes smoothing count. */
  alpha: number
  /** Plain SGD epochs over the examples, learning rate decaying linearly to 0. */
  epochs: number
  learningRate: number
  /** L2 penalty per example on the weights (not the ratios). */
  l2: number
}

export const DEFAULT_LINEAR_HYPER_PARAMETERS: LinearHyperParameters = { alpha: 1, epochs: 5, learningRate: 0.5, l2: 1e-6 }

/** The trained member: `scores[row]` = weight × ratio (0 for rows no example used), and a bias. */
export interface LinearWeights {
  scores: Float32Array
  bias: number
}

/** Trains NB-LR on `examples` whose rows are below `rows`; deterministic for a seed. */
export function trainLinear(examples: readonly BagExample[], rows: number, hp: LinearHyperParameters, seed: number): LinearWeights {
  const p = new Float64Array(rows)
  const q = new Float64Array(rows)
  const seen = new Int32Array(rows).fill(-1)
  examples.forEach((example, i) => {
    const counts = example.label === 1 ? p : q
    for (const row of example.rows) {
      if (seen[row] === i) continue
      seen[row] = i
      counts[row]! += 1
    }
  })
  let sumP = 0
  let sumQ = 0
  for (let row = 0; row < rows; row++) {
    if (seen[row]! < 0) continue
    sumP += p[row]! + hp.alpha
    sumQ += q[row]! + hp.alpha
  }
  const ratio = new Float32Array(rows)
  for (let row = 0; row < rows; row++) {
    if (seen[row]! >= 0) ratio[row] = Math.log((p[row]! + hp.alpha) / sumP / ((q[row]! + hp.alpha) / sumQ))
  }
  const weight = new Float32Array(rows).fill(1)
  let bias = 0
  sgdSteps(examples, hp, seededRandom(seed), (example, rate) => {
    const n = Math.max(1, example.tokens)
    let z = bias
    for (const row of example.rows) z += (weight[row]! * ratio[row]!) / n
    const g = 1 / (1 + Math.exp(-z)) - example.label
    bias -= rate * g
    for (const row of example.rows) weight[row]! -= rate * ((g * ratio[row]!) / n + hp.l2 * (weight[row]! - 1))
  })
  const scores = new Float32Array(rows)
  for (let row = 0; row < rows; row++) scores[row] = weight[row]! * ratio[row]!
  return { scores, bias }
}

/** Margins `logit(positive) - logit(negative)` of each example. */
export function linearMargins(weights: LinearWeights, examples: readonly BagExample[]): Float64Array {
  return Float64Array.from(examples, (example) => {
    let z = 0
    for (const row of example.rows) z += weights.scores[row] ?? 0
    return weights.bias + z / Math.max(1, example.tokens)
  })
}

/**
 * The bag with the linear member folded in as one more table column, so that
 * `bagWeight · (bag logits) + linearWeight · (linear margin)` equals `bagWeight · (new bag logits)`.
 * The column is scaled to the bag's magnitude so int8 rows (one scale per row) keep their precision.
 */
export function appendLinearColumn(bag: BagWeights, linear: LinearWeights, bagWeight: number, linearWeight: number): BagWeights {
  const dim = bag.out.length / 2
  const rows = bag.table.length / dim
  const wide = dim + 1
  let bagMax = 0
  let linearMax = 0
  for (let i = 0; i < bag.table.length; i++) bagMax = Math.max(bagMax, Math.abs(bag.table[i]!))
  for (let row = 0; row < linear.scores.length; row++) linearMax = Math.max(linearMax, Math.abs(linear.scores[row]!))
  const scale = linearMax > 0 ? bagMax / linearMax : 1
  const table = new Float32Array(rows * wide)
  for (let row = 0; row < rows; row++) {
    table.set(bag.table.subarray(row * dim, row * dim + dim), row * wide)
    table[row * wide + dim] = (linear.scores[row] ?? 0) * scale
  }
  // Half the margin on each logit; divided by bagWeight, which the exporter multiplies back (a bag
  // weight of 0 only comes without a held-out set, where the linear weight is 0 too).
  const half = bagWeight === 0 ? 0 : linearWeight / bagWeight / 2
  const out = new Float32Array(2 * wide)
  for (let c = 0; c < 2; c++) out.set(bag.out.subarray(c * dim, c * dim + dim), c * wide)
  out[dim] = -half / scale
  out[wide + dim] = half / scale
  const outBias = Float32Array.from([bag.outBias[0]! - half * linear.bias, bag.outBias[1]! + half * linear.bias])
  return { table, out, outBias }
}
