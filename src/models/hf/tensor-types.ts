/**
 * The element types a Hugging Face export may declare: ids as int64 (optimum, PyTorch) or int32
 * (tf2onnx and some hand-made exports), logits as float32, float16 (`--fp16` exports) or
 * float64. The encoder produces int64 ids; the worker narrows them where the graph asks for
 * int32, and half-precision logits are widened before the softmax.
 */
import { fromFloat16 } from '../../lib/float16.js'
import type { WireTensor } from './worker-protocol.js'

export const ID_TYPES = ['int64', 'int32'] as const
export const LOGIT_TYPES = ['float32', 'float16', 'float64'] as const
export type IdType = (typeof ID_TYPES)[number]

export function isIdType(type: string): type is IdType {
  return (ID_TYPES as readonly string[]).includes(type)
}

/** The logits as numbers, whatever their floating-point type. */
export function logitValues(tensor: WireTensor): ArrayLike<number> {
  return tensor.type === 'float16' ? Float32Array.from(tensor.data as Uint16Array, fromFloat16) : (tensor.data as Float32Array | Float64Array)
}
