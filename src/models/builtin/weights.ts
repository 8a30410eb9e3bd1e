/**
 * The built-in model's weights, read back from the ONNX file `graph.ts` writes: the file stays
 * the one artifact (portable to any ONNX runtime), and `engine.ts` evaluates the same numbers.
 *
 * The tables are rebuilt exactly as the graph's constant nodes build them: rows scattered into
 * zeros, `Round(value / unit)` in float32 with ties to even, so the evaluator sums the same
 * whole numbers ONNX Runtime does.
 */
import type onnxProto from 'onnx-proto'
import { fromFloat16 } from '../../lib/float16.js'
import { decodeModel } from '../onnx/graph-builder.js'
import { padRow, tableRows, type FeatureSpec } from './features.js'

/** A [rows, width] table holding only its non-zero rows. */
export interface RowTable {
  width: number
  /** Row number -> index into `values` / width, or -1 for an all-zero row. */
  slotOf: Int32Array
  /** Whole numbers of the table's unit (exact in float32: below 2^24). */
  values: Float32Array
}

export interface BuiltinWeights {
  /** Token vectors: the sum of a token's rows (word, sub-words; its bigram row is zero here). */
  cnnTable: RowTable
  /** Conv weight [channels, inputs per group, kernel] in the graph's layout, with its bias. */
  convWeight: Float32Array
  convBias: Float32Array
  channels: number
  groups: number
  kernel: number
  /** Pooled values never go below this (the graph's `Max(pooled, pool_floor)`). */
  poolFloor: Float32Array
  /** [channels, classes]: pooled features to logits. */
  cnnWeight: Float32Array
  /** Bag of word and bigram rows (16 columns; the token count is the graph's extra column). */
  bagTable: RowTable
  /** [bag width + 1, classes]: the last row multiplies the token count. */
  bagWeight: Float32Array
  outBias: Float32Array
  classes: number
  /** The graph's declared input and output names (checked against the manifest). */
  inputNames: string[]
  outputNames: string[]
}

type TensorProto = onnxProto.onnx.ITensorProto

const FLOAT = 1
const INT8 = 3
const INT32 = 6
const INT64 = 7
const FLOAT16 = 10

/** Reads the weights of a built-in model's ONNX bytes; throws an Error saying what is missing. */
export function readBuiltinWeights(bytes: Uint8Array, spec: FeatureSpec): BuiltinWeights {
  const graph = decodeModel(bytes).graph
  if (!graph) throw new Error('the ONNX file holds no graph')
  const tensors = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]))
  const get = (name: string, type: number): TensorProto => {
    const tensor = tensors.get(name)
    if (!tensor) throw new Error(`the ONNX graph has no initializer "${name}" (not an infergate built-in model?)`)
    if (tensor.dataType !== type) throw new Error(`initializer "${name}" has data type ${tensor.dataType}, expected ${type}`)
    return tensor
  }
  const floats = (name: string) => new Float32Array(copy(get(name, FLOAT)).buffer)
  const conv = (graph.node ?? []).find((n) => n.opType === 'Conv')
  const groups = Number(conv?.attribute?.find((a) => a.name === 'group')?.i ?? 1)
  const [channels, , kernel] = (get('conv_weight', FLOAT).dims ?? []).map(Number) as [number, number, number]
  const outBias = floats('out_bias')
  return {
    cnnTable: readTable(get, 'cnn_table_float', floats('table_cnn_unit')[0]!, tableRows(spec)),
    convWeight: floats('conv_weight'),
    convBias: floats('conv_bias'),
    channels,
    groups,
    kernel,
    poolFloor: floats('pool_floor'),
    cnnWeight: floats('cnn_weight'),
    bagTable: readTable(get, 'bag_table_float', floats('bag_rows_unit')[0]!, padRow(spec) + 1),
    bagWeight: floats('bag_weight'),
    outBias,
    classes: outBias.length,
    inputNames: (graph.input ?? []).map((v) => v.name ?? ''),
    outputNames: (graph.output ?? []).map((v) => v.name ?? ''),
  }
}

/** The compact table `name` (see `addTable` in graph.ts) of `expected` rows, in whole numbers of `unit`. */
function readTable(get: (name: string, type: number) => TensorProto, name: string, unit: number, expected: number): RowTable {
  const [rows, width] = Array.from(new BigInt64Array(copy(get(`${name}_shape`, INT64)).buffer), Number) as [number, number]
  if (rows !== expected) throw new Error(`table "${name}" has ${rows} rows; the manifest's features need ${expected}`)
  // int32 since the pretrained vectors (half the bytes); int64 in models exported before.
  const index32 = tryGet(get, `${name}_index32`, INT32)
  const index: ArrayLike<number> = index32
    ? new Int32Array(copy(index32).buffer)
    : Array.from(new BigInt64Array(copy(get(`${name}_index`, INT64)).buffer), Number)
  const stored = storedValues(get, name, index.length, width)
  const slotOf = new Int32Array(rows).fill(-1)
  const values = new Float32Array(stored.length)
  for (let i = 0; i < index.length; i++) slotOf[index[i]!] = i
  for (let i = 0; i < stored.length; i++) values[i] = roundHalfEven(Math.fround(stored[i]! / unit))
  return { width, slotOf, values }
}

/** The float32 values of the stored rows, as the graph's Cast/Mul nodes compute them. */
function storedValues(get: (name: string, type: number) => TensorProto, name: string, count: number, width: number): Float32Array {
  const int8 = tryGet(get, `${name}_int8`, INT8)
  if (int8) {
    const q = new Int8Array(copy(int8).buffer)
    const scale = new Float32Array(copy(get(`${name}_scale`, FLOAT)).buffer)
    // float32 * float32 is exact in float64; Float32Array rounds it as ONNX Runtime's Mul does.
    const values = new Float32Array(q.length)
    for (let row = 0; row < count; row++) {
      const s = scale[row]!
      for (let i = row * width; i < (row + 1) * width; i++) values[i] = q[i]! * s
    }
    return values
  }
  const half = tryGet(get, `${name}_float16`, FLOAT16)
  if (half) return Float32Array.from(new Uint16Array(copy(half).buffer), fromFloat16)
  const values = new Float32Array(copy(get(`${name}_values`, FLOAT)).buffer)
  if (values.length !== count * width) throw new Error(`table "${name}" holds ${values.length} values for ${count} rows`)
  return values
}

function tryGet(get: (name: string, type: number) => TensorProto, name: string, type: number): TensorProto | undefined {
  try {
    return get(name, type)
  } catch {
    return undefined
  }
}

/** A fresh, aligned copy of the tensor's raw little-endian bytes. */
function copy(tensor: TensorProto): Uint8Array {
  if (!tensor.rawData) throw new Error(`initializer "${tensor.name}" has no raw data`)
  return new Uint8Array(tensor.rawData)
}

/** ONNX `Round`: to the nearest integer, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x)
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r
}
