/** What the main thread and a Hugging Face model's worker exchange (see `lib/worker-calls.ts`). */
import type ort from 'onnxruntime-node'

/** A tensor as it crosses threads: its data buffer is transferred, not copied. */
export interface WireTensor {
  type: ort.Tensor.Type
  data: ort.Tensor.DataType
  dims: readonly number[]
}

/** What the worker is started with: the model file and the tokenizer, already checked by the loader. */
export interface HfWorkerData {
  /** Absolute path of `model.onnx` (ONNX Runtime finds external data beside it). */
  modelFile: string
  tokenizer: Record<string, unknown>
  tokenizerConfig: Record<string, unknown>
  maxLength: number
  padTokenId: number
  intraOpThreads: number
}

/** What the worker reports once its session is open: the graph's signature, for the loader to check. */
export interface HfSessionInfo {
  inputs: ort.InferenceSession.ValueMetadata[]
  outputs: ort.InferenceSession.ValueMetadata[]
}

/** One call: the texts of a batch. The answer: their `logits`, `[texts, labels]`. */
export type ClassifyPayload = readonly string[]
export type LogitsAnswer = WireTensor
