/**
 * ONNX Runtime sessions that never block the event loop.
 *
 * onnxruntime-node's `run()` returns a promise but computes synchronously on the main thread
 * (measured: a 150 ms model stopped every timer for 150 ms). So each model's session lives in
 * a worker thread of its own; the main thread only tokenises, posts the input tensors (their
 * buffers are transferred, not copied) and receives the outputs.
 */
import { Worker } from 'node:worker_threads'
import type ort from 'onnxruntime-node'
import { workerEntry } from '../../lib/worker-entry.js'
import type { SessionRequest, SessionResponse, WireTensor } from './session-protocol.js'

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
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[]
  run(feeds: Record<string, WireTensor>, fetches?: readonly string[]): Promise<Record<string, OutputTensor>>
  release(): Promise<void>
}

const WORKER = workerEntry(import.meta.url, 'session-worker')

interface Pending {
  resolve: (outputs: Record<string, OutputTensor>) => void
  reject: (error: Error) => void
}

class WorkerSession implements ModelSession {
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private failure: Error | undefined

  constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[],
  ) {
    worker.on('message', (message: SessionResponse) => this.settle(message))
    worker.on('error', (error) => this.fail(error))
    worker.on('exit', (code) => this.fail(new Error(`the inference worker exited (code ${code})`)))
    // An idle worker does not keep the process alive; one with calls in flight does.
    worker.unref()
  }

  private settle(message: SessionResponse): void {
    if (message.type !== 'result' && message.type !== 'failed') return
    const pending = this.pending.get(message.id)
    if (!pending) return
    this.pending.delete(message.id)
    if (this.pending.size === 0) this.worker.unref()
    if (message.type === 'result') pending.resolve(message.outputs)
    else pending.reject(new Error(message.message))
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }

  run(feeds: Record<string, WireTensor>, fetches?: readonly string[]): Promise<Record<string, OutputTensor>> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    const transfer = Object.values(feeds).map((tensor) => (tensor.data as ArrayBufferView).buffer as ArrayBuffer)
    const request: SessionRequest = { type: 'run', id, feeds, ...(fetches ? { fetches: [...fetches] } : {}) }
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref()
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage(request, transfer)
    })
  }

  async release(): Promise<void> {
    if (this.failure) return
    this.failure = new Error('the session was released')
    this.worker.ref()
    this.worker.postMessage({ type: 'release' } satisfies SessionRequest)
    await new Promise((resolve) => this.worker.once('exit', resolve))
  }
}

/** Opens a session on `bytes` in a worker thread; rejects with ONNX Runtime's message. */
export function openSession(bytes: Uint8Array, options: SessionOptions = {}): Promise<ModelSession> {
  const copy = bytes.slice()
  const worker = new Worker(WORKER.entry, {
    eval: WORKER.eval,
    workerData: { bytes: copy, intraOpThreads: options.intraOpThreads ?? 1 },
    transferList: [copy.buffer],
  })
  return new Promise((resolve, reject) => {
    const onMessage = (message: SessionResponse) => {
      if (message.type === 'ready') {
        cleanup()
        resolve(new WorkerSession(worker, message.inputNames, message.outputNames, message.outputMetadata))
      } else if (message.type === 'error') {
        cleanup()
        void worker.terminate()
        reject(new Error(message.message))
      }
    }
    const onError = (error: Error) => {
      cleanup()
      reject(error)
    }
    const cleanup = () => {
      worker.off('message', onMessage)
      worker.off('error', onError)
    }
    worker.on('message', onMessage)
    worker.on('error', onError)
  })
}
