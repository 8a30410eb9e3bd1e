/** What the main thread and an ONNX Runtime worker exchange (see `lib/worker-calls.ts`). */
import type ort from 'onnxruntime-node'

/** A tensor as it crosses threads: its data buffer is transferred, not copied. */
export interface WireTensor {
  type: ort.Tensor.Type
  data: ort.Tensor.DataType
  dims: readonly number[]
}

/** What the worker is started with. */
export interface SessionWorkerData {
  /** The model's bytes, or the path of its file (needed when its weights are external data). */
  model: Uint8Array | string
  intraOpThreads: number
}

/** What the worker reports once its session is open. */
export interface SessionInfo {
  inputNames: string[]
  outputNames: string[]
  inputMetadata: ort.InferenceSession.ValueMetadata[]
  outputMetadata: ort.InferenceSession.ValueMetadata[]
}

/** One `run`: the feeds, and the outputs wanted (all when absent). */
export interface RunPayload {
  feeds: Record<string, WireTensor>
  fetches?: string[]
}

export type RunAnswer = Record<string, WireTensor>
