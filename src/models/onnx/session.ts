/**
 * ONNX Runtime sessions that never block the event loop.
 *
 * onnxruntime-node's `run()` returns a promise but computes synchronously on the main thread
 * (measured: a 150 ms model stopped every timer for 150 ms). So each model's session lives in
 * a worker thread of its own; the main thread only tokenises, posts the input tensors (their
 * buffers are transferred, not copied) and receives the outputs.
 */
import type ort from 'onnxruntime-node'
import { startWorker, type WorkerClient } from '../../lib/worker-calls.js'
import { workerEntry } from '../../lib/worker-entry.js'
import type { RunAnswer, RunPayload, SessionInfo, SessionWorkerData, WireTensor } from './session-protocol.js'

export interface SessionOptions {
  /** Threads ONNX Runtime may use inside one call; default 1 (batching gives the parallelism). */
  intraOpThreads?: number
}

/** An output tensor as the main thread receives it. */
export type OutputTensor = WireTensor

/** The part of an ONNX Runtime session infergate uses, whichever thread runs it. */
export interface ModelSession {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[]
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[]
  run(feeds: Record<string, WireTensor>, fetches?: readonly string[]): Promise<Record<string, OutputTensor>>
  release(): Promise<void>
}

const WORKER = workerEntry(import.meta.url, 'session-worker')

class WorkerSession implements ModelSession {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[]
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[]

  constructor(
    private readonly client: WorkerClient<RunPayload, RunAnswer>,
    info: SessionInfo,
  ) {
    this.inputNames = info.inputNames
    this.outputNames = info.outputNames
    this.inputMetadata = info.inputMetadata
    this.outputMetadata = info.outputMetadata
  }

  run(feeds: Record<string, WireTensor>, fetches?: readonly string[]): Promise<Record<string, OutputTensor>> {
    const transfer = Object.values(feeds).map((tensor) => (tensor.data as ArrayBufferView).buffer as ArrayBuffer)
    return this.client.call({ feeds, ...(fetches ? { fetches: [...fetches] } : {}) }, transfer)
  }

  release(): Promise<void> {
    return this.client.release()
  }
}

/**
 * Opens a session in a worker thread on a model's bytes or on the path of its file; rejects with
 * ONNX Runtime's message. A path is read by the worker alone (the main thread never holds the
 * model) and lets ONNX Runtime find external data (`model.onnx_data`) beside the file.
 */
export async function openSession(model: Uint8Array | string, options: SessionOptions = {}): Promise<ModelSession> {
  const sent = typeof model === 'string' ? model : model.slice()
  const data: SessionWorkerData = { model: sent, intraOpThreads: options.intraOpThreads ?? 1 }
  const transfer = typeof sent === 'string' ? [] : [sent.buffer]
  const { client, info } = await startWorker<RunPayload, RunAnswer, SessionInfo>(WORKER, data, transfer)
  return new WorkerSession(client, info)
}
