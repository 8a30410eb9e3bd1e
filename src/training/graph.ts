/**
 * The ONNX graph (opset 17) of a trained built-in model. Input `features` int64 [batch, tokens,
 * slots] (see `features.ts`); outputs `logits` and `probabilities` [batch, 2].
 *
 *   CNNs: Gather(table_cnn) -> ReduceSum over slots -> Transpose -> grouped Conv (one group per
 *         member, widths padded to the widest kernel with zero taps) -> ReduceMax over positions
 *         -> Max(floor) -> MatMul
 *   bag:  Gather(table_bag, slots 0 and 1) -> ReduceSum over tokens and slots -> MatMul, divided
 *         by the token count (a constant column of the table that is 1 on word rows)
 *   logits = cnn + bias + bag (the stacking weights are folded into the matrices), Softmax.
 *
 * Both tables hold whole numbers of a unit, so their sums are exact (see EXACT_LIMIT).
 * Tables are stored compactly: only rows training used, int8 with one scale per row (or float16 /
 * float32), scattered into zeros by constant nodes that ONNX Runtime folds at session creation.
 */
import { toFloat16 } from '../lib/float16.js'
import { attr, GraphBuilder } from '../models/onnx/graph-builder.js'
import type { CnnWeights } from './cnn.js'
import { padRow, tableRows } from '../models/builtin/features.js'
import { MAX_TOKENS } from '../models/builtin/tokenizer.js'
import type { TrainedBuiltinModel } from './train.js'

export const OPSET = 17

/**
 * Tables hold whole numbers of a unit (max |value| / levels): sums of whole numbers below 2^24
 * are exact in float32 in any order, so no sum can depend on how a batch is padded. Levels are
 * chosen so the largest possible sum stays below 2^24: a CNN token vector adds at most maxSlots
 * rows, the bag adds 2 non-zero rows per token over at most MAX_TOKENS tokens.
 */
const EXACT_LIMIT = 2 ** 24

/** How table rows are stored in the file. */
export type TableStorage = 'int8' | 'float16' | 'float32'

/** The ONNX bytes of `model`; see the module comment. */
export function buildOnnxModel(model: TrainedBuiltinModel, storage: TableStorage = 'int8'): Uint8Array {
  const g = new GraphBuilder('infergate_sentiment')
  g.input('features', 'int64', ['batch', 'tokens', 'slots'])
  const int64 = (...values: number[]): BigInt64Array => BigInt64Array.from(values, BigInt)
  g.initializer('axis_1', int64(1), [1])
  g.initializer('axis_2', int64(2), [1])
  g.initializer('axes_1_2', int64(1, 2), [2])
  addCnnPath(g, model, storage)
  addBagPath(g, model, storage)
  const { cnn, bag } = model.stacking
  const bias = new Float32Array(2)
  for (const m of model.members) for (let c = 0; c < 2; c++) bias[c]! += (m.outBias[c]! * cnn) / model.members.length
  for (let c = 0; c < 2; c++) bias[c]! += model.bag.outBias[c]! * bag
  g.initializer('out_bias', bias, [2])
  // MatMul + Add(bias) fuses into one Gemm node in ONNX Runtime.
  g.node('Add', ['cnn_product', 'out_bias'], ['cnn_scores'])
  g.node('Add', ['cnn_scores', 'bag_scores'], ['logits'])
  g.node('Softmax', ['logits'], ['probabilities'], { axis: -1 })
  g.output('logits', 'float32', ['batch', 2])
  g.output('probabilities', 'float32', ['batch', 2])
  return g.toBytes({ opsetVersion: OPSET, docString: 'infergate built-in sentiment model (see manifest.json)' })
}

function addCnnPath(g: GraphBuilder, model: TrainedBuiltinModel, storage: TableStorage): void {
  const { dim, maps, widths } = model.hyperParameters
  const members = model.members
  const channels = widths.length * maps
  const kernel = Math.max(...widths)
  // Rows past the padding row are the pretrained words' rows (their vectors through the learned projections).
  const pretrainedStart = padRow(model.features) + 1
  addTable(g, 'cnn_table_float', tableRows(model.features), members.length * dim, storage, (row, out) => {
    members.forEach((m, k) => {
      const at = row - pretrainedStart
      const rows = at >= 0 ? m.pretrainedTable : m.table
      if (rows) out.set(rows.subarray((at >= 0 ? at : row) * dim, ((at >= 0 ? at : row) + 1) * dim), k * dim)
    })
  })
  const largest = Math.max(...members.map((m) => Math.max(maxAbs(m.table), maxAbs(m.pretrainedTable ?? new Float32Array(0)))))
  const unit = addWholeUnits(g, 'cnn_table_float', 'table_cnn', largest / levels(model.features.maxSlots))
  g.node('Gather', ['table_cnn', 'features'], ['slot_vectors'])
  g.node('ReduceSum', ['slot_vectors', 'axis_2'], ['token_vectors'], { keepdims: 0 })
  g.node('Transpose', ['token_vectors'], ['channels_first'], { perm: [0, 2, 1] })
  g.initializer('conv_weight', stackConv(members, dim, maps, widths, kernel, unit), [members.length * channels, dim, kernel])
  g.initializer('conv_bias', concat(members.map((m) => m.convBias)), [members.length * channels])
  g.node('Conv', ['channels_first', 'conv_weight', 'conv_bias'], ['windows'], {
    group: members.length,
    kernel_shape: [kernel],
    pads: [kernel - 1, kernel - 1],
  })
  g.node('ReduceMax', ['windows'], ['pooled'], { axes: [2], keepdims: 0 })
  // max(pooled, max(bias, 0)) == relu(max(0, max_j s_j) + bias): all-padding windows (exactly
  // `bias`) can never win, so padding a batch changes nothing.
  g.initializer('pool_floor', concat(members.map((m) => m.convBias.map((b) => Math.max(b, 0)))), [members.length * channels])
  g.node('Max', ['pooled', 'pool_floor'], ['hidden'])
  const scale = model.stacking.cnn / members.length
  const weight = new Float32Array(members.length * channels * 2)
  members.forEach((m, k) => {
    for (let q = 0; q < channels; q++) {
      for (let c = 0; c < 2; c++) weight[(k * channels + q) * 2 + c] = m.out[c * channels + q]! * scale
    }
  })
  g.initializer('cnn_weight', weight, [members.length * channels, 2])
  g.node('MatMul', ['hidden', 'cnn_weight'], ['cnn_product'])
}

function addBagPath(g: GraphBuilder, model: TrainedBuiltinModel, storage: TableStorage): void {
  const { bag, features } = model
  const dim = bag.out.length / 2
  const rows = padRow(features) + 1
  addTable(g, 'bag_table_float', rows, dim, storage, (row, out) => out.set(bag.table.subarray(row * dim, row * dim + dim)))
  const unit = addWholeUnits(g, 'bag_table_float', 'bag_rows', maxAbs(bag.table) / levels(2 * MAX_TOKENS))
  // The token count rides along as an extra column: 1 on word rows, 0 elsewhere (folded at load).
  g.initializer('row_limit', new BigInt64Array([BigInt(rows)]), [])
  g.initializer('row_start', new BigInt64Array([0n]), [])
  g.initializer('row_step', new BigInt64Array([1n]), [])
  g.initializer('word_buckets', new BigInt64Array([BigInt(features.wordBuckets)]), [])
  g.node('Range', ['row_start', 'row_limit', 'row_step'], ['row_ids'])
  g.node('Less', ['row_ids', 'word_buckets'], ['is_word'])
  g.node('Cast', ['is_word'], ['is_word_float'], { to: 1 })
  g.node('Unsqueeze', ['is_word_float', 'axis_1'], ['word_column'])
  g.node('Concat', ['bag_rows', 'word_column'], ['table_bag'], { axis: 1 })
  g.initializer('slots_start', new BigInt64Array([0n]), [1])
  g.initializer('slots_end', new BigInt64Array([2n]), [1])
  g.node('Slice', ['features', 'slots_start', 'slots_end', 'axis_2'], ['word_bigram'])
  g.node('Gather', ['table_bag', 'word_bigram'], ['bag_vectors'])
  g.node('ReduceSum', ['bag_vectors', 'axes_1_2'], ['bag_sum'], { keepdims: 0 })
  g.initializer('count_start', new BigInt64Array([BigInt(dim)]), [1])
  g.initializer('count_end', new BigInt64Array([BigInt(dim + 1)]), [1])
  g.node('Slice', ['bag_sum', 'count_start', 'count_end', 'axis_1'], ['token_count'])
  g.initializer('one', new Float32Array([1]), [])
  g.node('Max', ['token_count', 'one'], ['divisor'])
  const weight = new Float32Array((dim + 1) * 2)
  for (let k = 0; k < dim; k++) for (let c = 0; c < 2; c++) weight[k * 2 + c] = bag.out[c * dim + k]! * model.stacking.bag * unit
  g.initializer('bag_weight', weight, [dim + 1, 2])
  g.node('MatMul', ['bag_sum', 'bag_weight'], ['bag_total'])
  g.node('Div', ['bag_total', 'divisor'], ['bag_scores'])
}

/** Adds `output` = Round(`input` / unit) (folded at load) and returns the unit. */
function addWholeUnits(g: GraphBuilder, input: string, output: string, unit: number): number {
  const safeUnit = unit > 0 ? unit : 1
  g.initializer(`${output}_unit`, new Float32Array([safeUnit]), [])
  g.node('Div', [input, `${output}_unit`], [`${output}_units`])
  g.node('Round', [`${output}_units`], [output])
  return Math.fround(safeUnit)
}

/**
 * Adds `name`, a [rows, width] float table whose row r is written by `fill(r, out)`: only the
 * non-zero rows are stored, scattered into zeros by constant (load-time folded) nodes.
 */
function addTable(
  g: GraphBuilder,
  name: string,
  rows: number,
  width: number,
  storage: TableStorage,
  fill: (row: number, out: Float32Array) => void,
): void {
  const row = new Float32Array(width)
  const used: number[] = []
  const chunks: Float32Array[] = []
  for (let r = 0; r < rows; r++) {
    row.fill(0)
    fill(r, row)
    if (row.some((v) => v !== 0)) {
      used.push(r)
      chunks.push(row.slice())
    }
  }
  const values = concat(chunks)
  g.initializer(`${name}_shape`, new BigInt64Array([BigInt(rows), BigInt(width)]), [2])
  // Row numbers fit in int32 (half the bytes of the int64 ScatterND wants; cast at load).
  g.initializer(`${name}_index32`, Int32Array.from(used), [used.length, 1])
  g.node('Cast', [`${name}_index32`], [`${name}_index`], { to: 7 })
  g.node('ConstantOfShape', [`${name}_shape`], [`${name}_zeros`], { value: attr.tensor('float32', new Float32Array([0]), [1]) })
  const updates = `${name}_values`
  if (storage === 'float32') {
    g.initializer(updates, values, [used.length, width])
  } else if (storage === 'float16') {
    g.initializer(`${name}_float16`, Uint16Array.from(values, toFloat16), [used.length, width], 'float16')
    g.node('Cast', [`${name}_float16`], [updates], { to: 1 })
  } else {
    const { quantized, scales } = quantizeRows(values, width)
    g.initializer(`${name}_int8`, quantized, [used.length, width])
    g.initializer(`${name}_scale`, scales, [used.length, 1])
    g.node('Cast', [`${name}_int8`], [`${name}_int8_float`], { to: 1 })
    g.node('Mul', [`${name}_int8_float`, `${name}_scale`], [updates])
  }
  g.node('ScatterND', [`${name}_zeros`, `${name}_index`, updates], [name])
}

/** Symmetric int8 per row: `value ≈ int8 * scale`, scale = max |value| / 127. */
function quantizeRows(values: Float32Array, width: number): { quantized: Int8Array; scales: Float32Array } {
  const count = values.length / width
  const quantized = new Int8Array(values.length)
  const scales = new Float32Array(count)
  for (let i = 0; i < count; i++) {
    let max = 0
    for (let c = 0; c < width; c++) max = Math.max(max, Math.abs(values[i * width + c]!))
    const scale = max === 0 ? 1 : max / 127
    scales[i] = scale
    for (let c = 0; c < width; c++) quantized[i * width + c] = Math.round(values[i * width + c]! / scale)
  }
  return { quantized, scales }
}

/**
 * Conv weights [members * channels, dim, kernel] for token vectors in units of `unit`; width-w
 * filters use taps 0..w-1, the rest 0.
 */
function stackConv(
  members: readonly CnnWeights[],
  dim: number,
  maps: number,
  widths: number[],
  kernel: number,
  unit: number,
): Float32Array {
  const channels = widths.length * maps
  const weight = new Float32Array(members.length * channels * dim * kernel)
  members.forEach((m, g) => {
    widths.forEach((w, wi) => {
      for (let k = 0; k < w; k++) {
        for (let f = 0; f < maps; f++) {
          const out = g * channels + wi * maps + f
          for (let c = 0; c < dim; c++) weight[(out * dim + c) * kernel + k] = m.conv[wi]![(k * maps + f) * dim + c]! * unit
        }
      }
    })
  })
  return weight
}

/** Largest whole number n such that `terms` values of magnitude <= n sum below 2^24. */
function levels(terms: number): number {
  return Math.floor((EXACT_LIMIT - 1) / terms)
}

function maxAbs(values: Float32Array): number {
  let max = 0
  for (const v of values) max = Math.max(max, Math.abs(v))
  return max
}

function concat(arrays: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((n, a) => n + a.length, 0))
  let offset = 0
  for (const a of arrays) {
    out.set(a, offset)
    offset += a.length
  }
  return out
}
