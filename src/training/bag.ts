/**
 * The linear member of the ensemble: a fastText-style bag of n-grams. A text's vector is the sum
 * of the table rows of its words and word bigrams divided by its number of tokens; a linear
 * layer gives two logits. Trained with plain SGD, one example at a time, learning rate decaying
 * linearly to 0 (as fastText does; `sgd.ts`). Its errors differ from the CNNs', which is why it helps.
 */
import { fillUniform, seededRandom } from './random.js'
import { sgdSteps } from './sgd.js'

export interface BagHyperParameters {
  dim: number
  epochs: number
  learningRate: number
}

/** An example as table rows: each token's word row and bigram row. */
export interface BagExample {
  label: number
  rows: Int32Array
  tokens: number
}

/** Trained weights, laid out as the exporter reads them. */
export interface BagWeights {
  /** `[rows + 1][dim]`; rows no example used (and the padding row) are zero. */
  table: Float32Array
  /** `[2][dim]`. */
  out: Float32Array
  outBias: Float32Array
}

/** Trains the bag model; the result depends only on the examples, sizes and seed. */
export function trainBag(examples: readonly BagExample[], rows: number, hp: BagHyperParameters, seed: number): BagWeights {
  const { dim } = hp
  const random = seededRandom(seed)
  const table = fillUniform(new Float32Array((rows + 1) * dim), 1 / dim, random)
  const used = new Uint8Array(rows)
  const weights: BagWeights = { table, out: new Float32Array(2 * dim), outBias: new Float32Array(2) }
  const x = new Float32Array(dim)
  sgdSteps(examples, hp, random, (example, rate) => {
    const margin = textVector(weights, example, dim, x)
    const g = 1 / (1 + Math.exp(-margin)) - example.label
    const scale = (rate * g) / example.tokens
    for (let k = 0; k < dim; k++) {
      const back = weights.out[dim + k]! - weights.out[k]!
      weights.out[k]! += rate * g * x[k]!
      weights.out[dim + k]! -= rate * g * x[k]!
      x[k] = back * scale
    }
    weights.outBias[0]! += rate * g
    weights.outBias[1]! -= rate * g
    for (const row of example.rows) {
      used[row] = 1
      for (let k = 0; k < dim; k++) table[row * dim + k]! -= x[k]!
    }
  })
  for (let row = 0; row <= rows; row++) if (row === rows || used[row] === 0) table.fill(0, row * dim, row * dim + dim)
  return weights
}

/** Logits `[negative, positive]` of each example. */
export function bagLogits(weights: BagWeights, examples: readonly BagExample[]): Float64Array {
  const dim = weights.out.length / 2
  const x = new Float32Array(dim)
  const logits = new Float64Array(examples.length * 2)
  examples.forEach((example, i) => {
    textVector(weights, example, dim, x)
    let l0 = weights.outBias[0]!
    let l1 = weights.outBias[1]!
    for (let k = 0; k < dim; k++) {
      l0 += weights.out[k]! * x[k]!
      l1 += weights.out[dim + k]! * x[k]!
    }
    logits[i * 2] = l0
    logits[i * 2 + 1] = l1
  })
  return logits
}

/** Writes the text vector into `x` and returns the margin `logit(positive) - logit(negative)`. */
function textVector(weights: BagWeights, example: BagExample, dim: number, x: Float32Array): number {
  x.fill(0)
  for (const row of example.rows) {
    for (let k = 0; k < dim; k++) x[k]! += weights.table[row * dim + k]!
  }
  let margin = weights.outBias[1]! - weights.outBias[0]!
  for (let k = 0; k < dim; k++) {
    x[k]! /= Math.max(1, example.tokens)
    margin += (weights.out[dim + k]! - weights.out[k]!) * x[k]!
  }
  return margin
}
