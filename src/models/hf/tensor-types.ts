/**
 * The element types a Hugging Face export may declare: ids as int64 (optimum, PyTorch) or int32
 * (tf2onnx and some hand-made exports), logits as float32, float16 (`--fp16` exports) or
 * float64. The encoder produces int64 ids; they are narrowed where the graph asks for int32,
 * and half-precision logits are widened before the softmax.
 */
import type { WireTensor } from './worker-protocol.js'

export const ID_TYPES = ['int64', 'int32'] as const
export const LOGIT_TYPES = ['float32', 'float16', 'float64'] as const
export type IdType = (typeof ID_TYPES)[number]

export function isIdType(type: string): type is IdType {
  return (ID_TYPES as readonly string[]).includes(type)
}

/** `ids` as a tensor of the type the graph declares (ids and masks fit in int32). */
export function idTensor(ids: BigInt64Array, type: IdType, dims: number[]): WireTensor {
  return type === 'int64' ? { type, data: ids, dims } : { type, data: Int32Array.from(ids, Number), dims }
}

/** The logits as numbers, whatever their floating-point type. */
export function logitValues(tensor: WireTensor): ArrayLike<number> {
  return tensor.type === 'float16' ? Float32Array.from(tensor.data as Uint16Array, halfToFloat) : (tensor.data as Float32Array | Float64Array)
}

/** IEEE 754 half-precision bits → number. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const fraction = bits & 0x3ff
  if (exponent === 0) return sign * fraction * 2 ** -24
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15)
}
