/** Messages between the main thread and an inference worker. */
import type ort from 'onnxruntime-node'

/** A tensor as it crosses threads: its data buffer is transferred, not copied. */
export interface WireTensor {
  type: ort.Tensor.Type
  data: ort.Tensor.DataType
  dims: readonly number[]
}

export type SessionRequest =
  | { type: 'run'; id: number; feeds: Record<string, WireTensor>; fetches?: string[] }
  | { type: 'release' }

export type SessionResponse =
  | { type: 'ready'; inputNames: string[]; outputNames: string[]; outputMetadata: ort.InferenceSession.ValueMetadata[] }
  | { type: 'error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, WireTensor> }
  | { type: 'failed'; id: number; message: string }
