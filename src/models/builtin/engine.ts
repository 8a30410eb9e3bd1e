/**
 * Evaluates the built-in model without ONNX Runtime: the same numbers as its ONNX graph (see
 * `graph.ts`; a test checks both agree on every SST-2 dev sentence), at a fraction of the cost.
 *
 * Why not ONNX Runtime here (measured on the 2-core dev machine, figures in docs/model.md): one
 * `InferenceSession.run` from Node costs 17-20 µs even for a one-node graph (the promise,
 * `setImmediate` and tensor wrapping around a synchronous call), the smallest graph of this
 * model's dense part 37-44 µs, the full graph 45-55 µs: with tokenising, over the 50 µs per text
 * the model must meet. This evaluator needs 12-26 µs (median, four bench runs) because a token's contribution to every
 * convolution window is a linear function of its vector alone: it is computed once per distinct
 * token and cached (`projection-cache.ts`), so a text costs a few adds per channel and position;
 * both loops run in WebAssembly SIMD where the model's shape allows (`simd-kernels.ts`), in plain
 * JavaScript otherwise (`pooling.ts`). Models of other shapes (Hugging Face exports) run on
 * ONNX Runtime.
 */
import { softmax } from '../scores.js'
import { bigramRowOfHash, padRow, tokenMarker, wordRows, type FeatureSpec, type Vocabulary } from './features.js'
import { maxPool, type PoolingLayout } from './pooling.js'
import { ProjectionCache } from './projection-cache.js'
import { SimdKernels } from './simd-kernels.js'
import { ungroupConvolution } from './ungroup.js'
import { fnv1a, MAX_TOKENS, tokenize } from './tokenizer.js'
import type { BuiltinWeights, RowTable } from './weights.js'

/** Distinct tokens whose projections are cached (1.7 KB each, 14 MB in all): the working vocabulary of English text. */
const TOKEN_CACHE_SIZE = 8192

export interface BuiltinEngineOptions {
  /** Distinct tokens cached (default TOKEN_CACHE_SIZE, at least MAX_TOKENS). */
  cacheSize?: number
  /** Use the WebAssembly SIMD loops where they apply (default true; false for tests). */
  simd?: boolean
  /** The model's pretrained vocabulary (its `vocabulary.txt`), when it has one. */
  vocabulary?: Vocabulary
}

export class BuiltinEngine {
  private readonly cache: ProjectionCache
  private readonly layout: PoolingLayout
  private readonly simd: SimdKernels | undefined
  /** Conv weight as [tap][channel][input], contiguous over the inputs. */
  private readonly tapWeight: Float64Array
  private readonly inputsPerGroup: number
  /** The current text's slots, with kernel - 1 padding slots (0) on each side. */
  private readonly slots: Int32Array
  private readonly pooled: Float64Array
  private readonly bagSum: Float64Array
  private readonly fillSlot = (token: string, slot: number) => this.project(token, slot)
  private readonly mark: (tokens: readonly string[]) => readonly string[]
  private readonly vocabulary: Vocabulary

  private readonly weights: BuiltinWeights

  constructor(
    grouped: BuiltinWeights,
    private readonly spec: FeatureSpec,
    options: BuiltinEngineOptions = {},
  ) {
    // Several CNN members (a grouped convolution) become one group, so the SIMD loops apply too.
    const weights = ungroupConvolution(grouped)
    this.weights = weights
    const cacheSize = options.cacheSize ?? TOKEN_CACHE_SIZE
    const { channels, kernel, groups, convWeight, cnnTable } = weights
    // Every token of a text must keep its slot until the text is pooled.
    if (cacheSize < MAX_TOKENS) throw new Error(`the token cache must hold at least ${MAX_TOKENS} tokens, got ${cacheSize}`)
    this.inputsPerGroup = convWeight.length / (channels * kernel)
    if (cnnTable.width !== groups * this.inputsPerGroup) throw new Error('the token table and the convolution disagree on the vector size')
    // A token's vector must not depend on its neighbour, or it could not be cached.
    if (cnnTable.slotOf.subarray(spec.wordBuckets + spec.subwordBuckets, padRow(spec) + 1).some((slot) => slot >= 0)) {
      throw new Error('the token table has non-zero bigram rows, which this evaluator does not support')
    }
    this.mark = tokenMarker(spec)
    this.vocabulary = options.vocabulary ?? new Map()
    const convolution = convolutionLayout(weights, this.inputsPerGroup)
    this.tapWeight = convolution.tapWeight
    this.layout = convolution.layout
    const slotsLength = MAX_TOKENS + 2 * (kernel - 1)
    this.simd =
      options.simd !== false && SimdKernels.fits(this.layout, groups)
        ? new SimdKernels(this.layout, projectionMatrix(this.tapWeight, this.layout, this.inputsPerGroup), this.inputsPerGroup, cacheSize + 1, slotsLength)
        : undefined
    this.cache = new ProjectionCache(cacheSize, this.layout.stride, this.simd?.arena)
    this.slots = this.simd?.slots ?? new Int32Array(slotsLength)
    this.pooled = new Float64Array(channels)
    this.bagSum = new Float64Array(weights.bagTable.width + 1)
  }

  /** Which loops run: the WebAssembly SIMD ones, or the JavaScript ones. */
  get kernels(): 'simd' | 'javascript' {
    return this.simd ? 'simd' : 'javascript'
  }

  /** Class probabilities of each text, `classes` numbers per text. */
  probabilities(texts: readonly string[]): Float32Array {
    const { classes } = this.weights
    const out = new Float32Array(texts.length * classes)
    const logits = new Float64Array(classes)
    for (let i = 0; i < texts.length; i++) {
      this.logits(this.mark(tokenize(texts[i]!)), logits)
      out.set(softmax(logits, 0, classes), i * classes)
    }
    return out
  }

  /** Writes the logits of one tokenised text (negation scopes marked, at most MAX_TOKENS tokens) into `out`. */
  logits(tokens: readonly string[], out: Float64Array): void {
    const { kernel, classes, cnnWeight, bagWeight, outBias, channels } = this.weights
    const slots = this.slots
    const count = Math.min(tokens.length, MAX_TOKENS)
    slots.fill(0)
    this.cache.startText()
    for (let t = 0; t < count; t++) slots[kernel - 1 + t] = this.cache.slotOf(tokens[t]!, this.fillSlot)
    if (this.simd) this.simd.pool(count + kernel - 1, this.pooled)
    else maxPool(this.cache.arena, slots, count + kernel - 1, this.layout, this.pooled)
    this.sumBag(tokens, count)
    const bagWidth = this.weights.bagTable.width
    for (let j = 0; j < classes; j++) {
      let cnn = 0
      for (let c = 0; c < channels; c++) cnn += this.pooled[c]! * cnnWeight[c * classes + j]!
      let bag = 0
      for (let i = 0; i <= bagWidth; i++) bag += this.bagSum[i]! * bagWeight[i * classes + j]!
      out[j] = outBias[j]! + cnn + bag / Math.max(count, 1)
    }
  }

  /** `bagSum` = the bag rows of every word and bigram (the graph's slots 0 and 1), then the token count. */
  private sumBag(tokens: readonly string[], count: number): void {
    const { bagSum, spec, cache } = this
    const table = this.weights.bagTable
    const width = table.width
    const first = this.weights.kernel - 1
    bagSum.fill(0)
    for (let t = 0; t < count; t++) {
      const slot = this.slots[first + t]!
      addRow(bagSum, table, cache.bagSlot[slot]!, width)
      const next = t + 1 < count ? tokens[t + 1] : undefined
      addRow(bagSum, table, table.slotOf[bigramRowOfHash(cache.hash[slot]!, next, spec)]!, width)
    }
    bagSum[width] = count
  }

  /** Fills `slot` with a token's vector (the sum of its word and sub-word rows) through every tap. */
  private project(token: string, slot: number): void {
    const rows = wordRows(token, this.spec, this.vocabulary)
    const vector = sumRows(this.weights.cnnTable, rows)
    const { channels, groups } = this.weights
    if (this.simd) this.simd.project(vector, slot)
    else projectVector(vector, this.tapWeight, this.inputsPerGroup, channels / groups, this.layout, this.cache.view(slot))
    this.cache.hash[slot] = fnv1a(token)
    this.cache.bagSlot[slot] = this.weights.bagTable.slotOf[rows[0]!]!
  }
}

/**
 * `out` = the projections of `vector` through every tap (tap k: channels from tapStart[k]);
 * `tapWeight` is [tap][channel][input]. A plain function, like the pooling loops.
 */
function projectVector(vector: Float64Array, tapWeight: Float64Array, inputs: number, groupChannels: number, layout: PoolingLayout, out: Float32Array): void {
  const { tapStart, tapOffset } = layout
  const channels = layout.bias.length
  for (let k = 0; k < tapStart.length; k++) {
    const start = tapStart[k]!
    const at = tapOffset[k]! - start
    for (let c = start; c < channels; c++) {
      const base = (k * channels + c) * inputs
      const input = Math.floor(c / groupChannels) * inputs
      let s = 0
      for (let d = 0; d < inputs; d++) s += tapWeight[base + d]! * vector[input + d]!
      out[at + c] = s
    }
  }
}

/**
 * The conv weight as [tap][channel][input], and where each tap's projections sit in a slot:
 * tap k covers the channels from the first with a non-zero weight at that tap (narrower filters
 * have zero taps), from offset tapOffset[k].
 */
function convolutionLayout(weights: BuiltinWeights, inputs: number): { tapWeight: Float64Array; layout: PoolingLayout } {
  const { channels, kernel, convWeight } = weights
  const tapWeight = new Float64Array(kernel * channels * inputs)
  const tapStart = new Int32Array(kernel).fill(channels)
  for (let c = 0; c < channels; c++) {
    for (let d = 0; d < inputs; d++) {
      for (let k = 0; k < kernel; k++) {
        const w = convWeight[(c * inputs + d) * kernel + k]!
        tapWeight[(k * channels + c) * inputs + d] = w
        if (w !== 0 && c < tapStart[k]!) tapStart[k] = c
      }
    }
  }
  const tapOffset = new Int32Array(kernel)
  let stride = 0
  for (let k = 0; k < kernel; k++) {
    tapOffset[k] = stride
    stride += channels - tapStart[k]!
  }
  return { tapWeight, layout: { stride, tapStart, tapOffset, bias: weights.convBias, floor: weights.poolFloor } }
}

/** The [input][projection] matrix of one group's taps, in the arena's slot layout (see SimdKernels). */
function projectionMatrix(tapWeight: Float64Array, layout: PoolingLayout, inputs: number): Float32Array {
  const { stride, tapStart, tapOffset } = layout
  const channels = layout.bias.length
  const matrix = new Float32Array(inputs * stride)
  for (let k = 0; k < tapStart.length; k++) {
    for (let c = tapStart[k]!; c < channels; c++) {
      for (let d = 0; d < inputs; d++) matrix[d * stride + tapOffset[k]! + c - tapStart[k]!] = tapWeight[(k * channels + c) * inputs + d]!
    }
  }
  return matrix
}

/** Adds row `slot` of `table` (nothing when -1, an all-zero row) to `sum`. */
function addRow(sum: Float64Array, table: RowTable, slot: number, width: number): void {
  if (slot < 0) return
  const base = slot * width
  for (let i = 0; i < width; i++) sum[i]! += table.values[base + i]!
}

/** The sum of `rows` of `table` (whole numbers: exact in any order). */
function sumRows(table: RowTable, rows: Int32Array): Float64Array {
  const sum = new Float64Array(table.width)
  for (const row of rows) addRow(sum, table, table.slotOf[row]!, table.width)
  return sum
}
