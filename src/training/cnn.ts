/**
 * The built-in model's network and its training step, in plain typed arrays.
 *
 * A token's vector is the sum of its table rows (word + character n-grams, or the word row alone). Convolutions of
 * widths `widths` slide over the token vectors (zero vectors beyond both ends), each channel is
 * max-pooled over positions with a floor of 0, then `z = relu(pooled + bias)` feeds a linear
 * layer with two logits. Training uses mini-batch Adam (lazy for the table rows), dropout on `z`
 * and word dropout. Within a mini-batch the parameters are fixed, so each distinct token's
 * vector and its projections through every filter offset are computed once per batch.
 */
import { dot, Workspace, type BatchCache } from './cnn-batch.js'
import type { EncodedExample } from './dataset.js'
import { contrastTarget, type ContrastRule } from './contrast.js'
import { fillUniform } from './random.js'

/** Network sizes and training settings of one model. */
export interface CnnHyperParameters {
  /** Size of token vectors. */
  dim: number
  /** Feature maps per convolution width. */
  maps: number
  /** Convolution widths in tokens. */
  widths: number[]
  /** Dropout on the pooled features during training. */
  dropout: number
  /** Probability of dropping a token occurrence during training. */
  wordDropout: number
  learningRate: number
  batchSize: number
  /** Epochs over all phrases (learning rate decays linearly to 0 over them). */
  epochs: number
  /** Extra epochs over whole training sentences only, at `rootLearningRate`. */
  rootEpochs: number
  rootLearningRate: number
  /** Table rows start uniform in [-initScale, initScale). */
  initScale: number
  /**
   * Weight averaging over the phrase epochs (SWA / Polyak): from this share of the phrase
   * batches on, a snapshot every `averageEvery` batches; the average replaces the weights before
   * the sentence epochs. 0 or absent: off.
   */
  averageFrom?: number
  averageEvery?: number
  /** With averaging: the phrase learning rate stops decaying at this share of `learningRate` (SWA's constant rate). */
  averageRateFloor?: number
  /** The "A but B" rule distilled while training (`contrast.ts`); absent: off. */
  contrast?: ContrastRule
}

/**
 * Frozen pretrained word vectors, read through two learned projections to the token vector size:
 * table rows `[start, start + words)` stand for `plain · vector`, rows `[start + words, start + 2 words)`
 * for `negated · vector` (the same word inside a negation scope).
 */
export interface PretrainedRows {
  start: number
  words: number
  /** Size of a pretrained vector. */
  dim: number
  /** `[words][dim]`. */
  vectors: Float32Array
}

const BETA1 = 0.9
const BETA2 = 0.999
const EPSILON = 1e-8

/** One parameter array with its gradient and Adam moments. */
class Param {
  readonly grad: Float32Array
  readonly m: Float32Array
  readonly v: Float32Array
  constructor(readonly value: Float32Array) {
    this.grad = new Float32Array(value.length)
    this.m = new Float32Array(value.length)
    this.v = new Float32Array(value.length)
  }

  /** Adam update of `[from, to)` with bias-corrected step `rate`; clears the gradient there. */
  update(rate: number, scale: number, from = 0, to = this.value.length): void {
    const { value, grad, m, v } = this
    for (let i = from; i < to; i++) {
      const g = grad[i]! * scale
      m[i] = BETA1 * m[i]! + (1 - BETA1) * g
      v[i] = BETA2 * v[i]! + (1 - BETA2) * g * g
      value[i]! -= (rate * m[i]!) / (Math.sqrt(v[i]!) + EPSILON)
      grad[i] = 0
    }
  }
}

/** The trained weights of one network, laid out as the exporter reads them. */
export interface CnnWeights {
  /** `[rows + 1][dim]`; the last row is the all-zero padding row. */
  table: Float32Array
  /** Per width `w`: `[w][maps][dim]` (offset-major). */
  conv: Float32Array[]
  /** `[widths.length * maps]`. */
  convBias: Float32Array
  /** `[2][widths.length * maps]`. */
  out: Float32Array
  outBias: Float32Array
  /** `[2 * words][dim]`: the pretrained rows (see {@link PretrainedRows}) as token vector rows. */
  pretrainedTable?: Float32Array
}

/** A network being trained; see the module comment for its shape. */
export class CnnModel {
  private readonly table: Param
  /** Every filter row, width after width: row `projOffsets[i] + k * maps + f` is width i, offset k, map f. */
  private readonly filters: Param
  private readonly convBias: Param
  private readonly out: Param
  private readonly outBias: Param
  private readonly channels: number
  /** Start of width `i`'s filters in a projection row; a row holds every (width, offset, map). */
  private readonly projOffsets: number[]
  private readonly projSize: number
  private step = 0
  private readonly work: Workspace
  private readonly trained: Uint8Array
  /** `[2][dim][pretrained dim]`: the plain and the negated projection of pretrained vectors. */
  private readonly projection: Param | undefined

  /**
   * @param rows table rows (the padding row comes on top)
   * @param subwords false to represent a token by its word row alone (its sub-word rows stay 0)
   */
  constructor(
    readonly rows: number,
    readonly hp: CnnHyperParameters,
    private readonly random: () => number,
    private readonly subwords = true,
    private readonly pretrained?: PretrainedRows,
  ) {
    const { dim, maps, widths } = hp
    this.channels = widths.length * maps
    this.table = new Param(fillUniform(new Float32Array((rows + 1) * dim), hp.initScale, random).fill(0, rows * dim))
    this.convBias = new Param(new Float32Array(this.channels))
    this.out = new Param(fillUniform(new Float32Array(2 * this.channels), Math.sqrt(6 / (this.channels + 2)), random))
    this.outBias = new Param(new Float32Array(2))
    let offset = 0
    this.projOffsets = widths.map((w) => {
      const start = offset
      offset += w * maps
      return start
    })
    this.projSize = offset
    const filters = new Float32Array(offset * dim)
    widths.forEach((w, i) => {
      const rows = filters.subarray(this.projOffsets[i]! * dim, (this.projOffsets[i]! + w * maps) * dim)
      fillUniform(rows, Math.sqrt(6 / (w * dim + maps)), random)
    })
    this.filters = new Param(filters)
    this.work = new Workspace(this.channels)
    this.trained = new Uint8Array(rows)
    if (pretrained) {
      const size = dim * pretrained.dim
      this.projection = new Param(fillUniform(new Float32Array(2 * size), Math.sqrt(6 / (dim + pretrained.dim)), random))
    }
  }

  private averageSum: Float64Array[] | undefined
  private averageCount = 0

  private params(): Param[] {
    return [this.table, this.filters, this.convBias, this.out, this.outBias, ...(this.projection ? [this.projection] : [])]
  }

  /** Adds the current weights to the running average. */
  addToAverage(): void {
    const params = this.params()
    this.averageSum ??= params.map((p) => new Float64Array(p.value.length))
    params.forEach((p, k) => {
      const sum = this.averageSum![k]!
      const value = p.value
      for (let i = 0; i < value.length; i++) sum[i]! += value[i]!
    })
    this.averageCount += 1
  }

  /** Replaces the weights by their running average (if any snapshot was taken) and resets it. */
  loadAverage(): void {
    if (!this.averageSum || this.averageCount === 0) return
    this.params().forEach((p, k) => {
      const sum = this.averageSum![k]!
      for (let i = 0; i < sum.length; i++) p.value[i] = sum[i]! / this.averageCount
    })
    this.averageSum = undefined
    this.averageCount = 0
  }

  /** Zeroes the table rows no training example used, so unseen words and n-grams add nothing. */
  zeroUntrainedRows(): void {
    const { dim } = this.hp
    for (let row = 0; row < this.rows; row++) {
      if (this.trained[row] === 0) this.table.value.fill(0, row * dim, row * dim + dim)
    }
  }

  /** The current weights (shared, not copied). */
  weights(): CnnWeights {
    return {
      table: this.table.value,
      conv: this.hp.widths.map((w, i) =>
        this.filters.value.subarray(this.projOffsets[i]! * this.hp.dim, (this.projOffsets[i]! + w * this.hp.maps) * this.hp.dim),
      ),
      convBias: this.convBias.value,
      out: this.out.value,
      outBias: this.outBias.value,
      ...(this.pretrained ? { pretrainedTable: this.pretrainedTable(this.pretrained) } : {}),
    }
  }

  /** Every pretrained row through its projection, as table rows. */
  private pretrainedTable(p: PretrainedRows): Float32Array {
    const { dim } = this.hp
    const table = new Float32Array(2 * p.words * dim)
    for (let row = 0; row < 2 * p.words; row++) this.addPretrained(p.start + row, table, row * dim)
    return table
  }

  /** Adds the vector of pretrained table row `row` to `out[at..at+dim)`. */
  private addPretrained(row: number, out: Float32Array, at: number): void {
    const p = this.pretrained!
    const { dim } = this.hp
    const negated = row >= p.start + p.words ? 1 : 0
    const go = (row - p.start - negated * p.words) * p.dim
    const po = negated * dim * p.dim
    const projection = this.projection!.value
    for (let c = 0; c < dim; c++) out[at + c]! += dot(projection, po + c * p.dim, p.vectors, go, p.dim)
  }

  /**
   * Trains on one mini-batch with learning rate `rate`; returns the summed log-loss. `pi`: the
   * contrast rule's teacher share (`contrast.ts`) for examples with a clause B, 0 for none.
   */
  trainBatch(batch: readonly EncodedExample[], rowsOf: readonly Int32Array[], rate: number, pi = 0): number {
    const cache = this.work.prepare(batch, rowsOf, this.hp.dim, this.projSize)
    this.computeProjections(cache, rowsOf)
    const rule = pi > 0 ? this.hp.contrast : undefined
    let loss = 0
    for (const example of batch) {
      // The rule's truth: this network's P(positive) for clause B alone (no dropout; draws nothing from `random`).
      const b1 = rule && (example.clause ?? -1) > 0 ? this.clauseProbability(example.tokens.subarray(example.clause), cache) : -1
      const keep = this.work.keepMask(example.tokens.length, this.hp.wordDropout, this.random)
      const [l0, l1] = this.forward(example.tokens, cache, keep, true)
      const p1 = 1 / (1 + Math.exp(l0 - l1))
      if (b1 < 0) {
        loss -= Math.log(Math.max(1e-12, example.label === 1 ? p1 : 1 - p1))
        this.backward(example.tokens, cache, keep, p1 - example.label)
        continue
      }
      const target = contrastTarget(example.label, p1, b1, rule!.strength, pi)
      loss -= target * Math.log(Math.max(1e-12, p1)) + (1 - target) * Math.log(Math.max(1e-12, 1 - p1))
      this.backward(example.tokens, cache, keep, p1 - target)
    }
    this.applyGradients(cache, rowsOf, rate, batch.length)
    return loss
  }

  /** P(positive) of `tokens` (part of the batch in `cache`) without dropout. */
  private clauseProbability(tokens: Int32Array, cache: BatchCache): number {
    const [l0, l1] = this.forward(tokens, cache, this.work.keepMask(tokens.length, 0, this.random), false)
    return 1 / (1 + Math.exp(l0 - l1))
  }

  /** Logits `[negative, positive]` of each example (no dropout). */
  predict(examples: readonly EncodedExample[], rowsOf: readonly Int32Array[]): Float64Array {
    const logits = new Float64Array(examples.length * 2)
    const chunk = 256
    for (let start = 0; start < examples.length; start += chunk) {
      const batch = examples.slice(start, start + chunk)
      const cache = this.work.prepare(batch, rowsOf, this.hp.dim, this.projSize)
      this.computeProjections(cache, rowsOf)
      batch.forEach((example, i) => {
        const keep = this.work.keepMask(example.tokens.length, 0, this.random)
        const [l0, l1] = this.forward(example.tokens, cache, keep, false)
        logits[(start + i) * 2] = l0
        logits[(start + i) * 2 + 1] = l1
      })
    }
    return logits
  }

  /** Vector and filter projections of every distinct token of the batch. */
  private computeProjections(cache: BatchCache, rowsOf: readonly Int32Array[]): void {
    const { dim } = this.hp
    const table = this.table.value
    const filters = this.filters.value
    const { vectors, projections } = cache
    const rowCount = this.projSize
    for (let u = 0; u < cache.tokens.length; u++) {
      const vo = u * dim
      const rows = rowsOf[cache.tokens[u]!]!
      const used = this.subwords ? rows.length : 1
      for (let i = 0; i < used; i++) {
        if (rows[i]! >= this.rows) {
          this.addPretrained(rows[i]!, vectors, vo)
          continue
        }
        const ro = rows[i]! * dim
        for (let c = 0; c < dim; c++) vectors[vo + c]! += table[ro + c]!
      }
      const po = u * rowCount
      for (let r = 0; r < rowCount; r++) projections[po + r] = dot(filters, r * dim, vectors, vo, dim)
    }
  }

  private forward(tokens: Int32Array, cache: BatchCache, keep: Uint8Array, training: boolean): [number, number] {
    const { maps, widths, dropout } = this.hp
    const { pooled, argmax, z, mask, window } = this.work
    const L = tokens.length
    widths.forEach((w, wi) => {
      const base = wi * maps
      pooled.fill(0, base, base + maps)
      argmax.fill(-1, base, base + maps)
      for (let j = 1 - w; j < L; j++) {
        window.fill(0, 0, maps)
        for (let k = Math.max(0, -j); k < w && j + k < L; k++) {
          if (keep[j + k] === 0) continue
          const po = cache.localOf[tokens[j + k]!]! * this.projSize + this.projOffsets[wi]! + k * maps
          for (let f = 0; f < maps; f++) window[f]! += cache.projections[po + f]!
        }
        for (let f = 0; f < maps; f++) {
          if (window[f]! > pooled[base + f]!) {
            pooled[base + f] = window[f]!
            argmax[base + f] = j
          }
        }
      }
    })
    const out = this.out.value
    const bias = this.convBias.value
    let l0 = this.outBias.value[0]!
    let l1 = this.outBias.value[1]!
    for (let q = 0; q < this.channels; q++) {
      const v = Math.max(0, pooled[q]! + bias[q]!)
      mask[q] = training ? (this.random() < dropout ? 0 : 1 / (1 - dropout)) : 1
      z[q] = v * mask[q]!
      l0 += out[q]! * z[q]!
      l1 += out[this.channels + q]! * z[q]!
    }
    return [l0, l1]
  }

  private backward(tokens: Int32Array, cache: BatchCache, keep: Uint8Array, g1: number): void {
    const { dim, maps, widths } = this.hp
    const { pooled, argmax, z, mask } = this.work
    const C = this.channels
    const out = this.out.value
    this.outBias.grad[0]! -= g1
    this.outBias.grad[1]! += g1
    for (let q = 0; q < C; q++) {
      this.out.grad[q]! -= g1 * z[q]!
      this.out.grad[C + q]! += g1 * z[q]!
      if (mask[q] === 0 || pooled[q]! + this.convBias.value[q]! <= 0) continue
      const g = (out[C + q]! - out[q]!) * g1 * mask[q]!
      this.convBias.grad[q]! += g
      const j = argmax[q]!
      if (j < 0) continue
      const wi = Math.floor(q / maps)
      const f = q - wi * maps
      const w = widths[wi]!
      const filters = this.filters.value
      const grads = this.filters.grad
      for (let k = Math.max(0, -j); k < w && j + k < tokens.length; k++) {
        if (keep[j + k] === 0) continue
        const u = cache.localOf[tokens[j + k]!]!
        const vo = u * dim
        const fo = (this.projOffsets[wi]! + k * maps + f) * dim
        for (let c = 0; c < dim; c++) {
          grads[fo + c]! += g * cache.vectors[vo + c]!
          cache.vectorGrads[vo + c]! += g * filters[fo + c]!
        }
      }
    }
  }

  /** Adds to the projections' gradient: each token's vector gradient times its pretrained vector. */
  private projectionGradients(cache: BatchCache, rowsOf: readonly Int32Array[]): void {
    const p = this.pretrained!
    const { dim } = this.hp
    const grad = this.projection!.grad
    cache.tokens.forEach((id, u) => {
      const rows = rowsOf[id]!
      for (let i = 0; i < (this.subwords ? rows.length : 1); i++) {
        const row = rows[i]!
        if (row < this.rows) continue
        const negated = row >= p.start + p.words ? 1 : 0
        const go = (row - p.start - negated * p.words) * p.dim
        for (let c = 0; c < dim; c++) {
          const g = cache.vectorGrads[u * dim + c]!
          if (g === 0) continue
          const po = (negated * dim + c) * p.dim
          for (let e = 0; e < p.dim; e++) grad[po + e]! += g * p.vectors[go + e]!
        }
      }
    })
  }

  private applyGradients(cache: BatchCache, rowsOf: readonly Int32Array[], rate: number, count: number): void {
    const { dim } = this.hp
    this.step += 1
    const corrected = (rate * Math.sqrt(1 - BETA2 ** this.step)) / (1 - BETA1 ** this.step)
    const scale = 1 / count
    if (this.projection) {
      this.projectionGradients(cache, rowsOf)
      this.projection.update(corrected, scale)
    }
    for (const p of [this.filters, this.convBias, this.out, this.outBias]) p.update(corrected, scale)
    const touched = this.work.touchedRows(cache, rowsOf, this.subwords, this.table.grad, dim, this.rows)
    for (const row of touched) {
      this.trained[row] = 1
      this.table.update(corrected, scale, row * dim, row * dim + dim)
    }
  }
}
