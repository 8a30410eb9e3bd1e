/**
 * Request/answer calls to a worker thread that owns something slow (an ONNX Runtime session, the
 * built-in model's evaluator): the main thread posts a payload, the worker answers it, and a
 * worker that dies fails every call in flight instead of leaving it hanging.
 *
 * Main thread: `startWorker(entry, data)` resolves once the worker reported ready, with its
 * `info` and a {@link WorkerClient}. Worker: `serveCalls(setup)`.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads'
import type { WorkerEntry } from './worker-entry.js'

export type CallRequest<P> = { type: 'call'; id: number; payload: P } | { type: 'release' }

export type CallResponse<R, I> =
  | { type: 'ready'; info: I }
  | { type: 'error'; message: string }
  | { type: 'result'; id: number; payload: R }
  | { type: 'failed'; id: number; message: string }

interface Pending<R> {
  resolve: (answer: R) => void
  reject: (error: Error) => void
}

/** The main thread's side of a started worker. */
export class WorkerClient<P, R> {
  private readonly pending = new Map<number, Pending<R>>()
  private nextId = 1
  private failure: Error | undefined

  constructor(private readonly worker: Worker) {
    worker.on('message', (message: CallResponse<R, unknown>) => this.settle(message))
    worker.on('error', (error) => this.fail(error))
    worker.on('exit', (code) => this.fail(new Error(`the worker exited (code ${code})`)))
    // An idle worker does not keep the process alive; one with calls in flight does.
    worker.unref()
  }

  /** Posts `payload` (the buffers in `transfer` move to the worker) and waits for the answer. */
  call(payload: P, transfer: readonly ArrayBuffer[] = []): Promise<R> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref()
      this.pending.set(id, { resolve, reject })
      this.worker.postMessage({ type: 'call', id, payload } satisfies CallRequest<P>, [...transfer])
    })
  }

  /** Asks the worker to release what it owns and waits for it to exit. */
  async release(): Promise<void> {
    if (this.failure) return
    this.failure = new Error('the worker was released')
    this.worker.ref()
    this.worker.postMessage({ type: 'release' } satisfies CallRequest<P>)
    await new Promise((resolve) => this.worker.once('exit', resolve))
  }

  private settle(message: CallResponse<R, unknown>): void {
    if (message.type !== 'result' && message.type !== 'failed') return
    const pending = this.pending.get(message.id)
    if (!pending) return
    this.pending.delete(message.id)
    if (this.pending.size === 0) this.worker.unref()
    if (message.type === 'result') pending.resolve(message.payload)
    else pending.reject(new Error(message.message))
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }
}

/**
 * Starts the worker module `entry` with `data` (the buffers in `transfer` move to it); resolves
 * with what its set-up reported, or rejects with the set-up's error message.
 */
export function startWorker<P, R, I>(
  entry: WorkerEntry,
  data: unknown,
  transfer: readonly ArrayBuffer[] = [],
): Promise<{ client: WorkerClient<P, R>; info: I }> {
  const worker = new Worker(entry.entry, { eval: entry.eval, workerData: data, transferList: [...transfer] })
  return new Promise((resolve, reject) => {
    const onMessage = (message: CallResponse<R, I>) => {
      if (message.type === 'ready') {
        cleanup()
        resolve({ client: new WorkerClient<P, R>(worker), info: message.info })
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

/** What a worker's set-up returns: what it reports, how it answers a call, how it lets go. */
export interface CallHandler<P, R, I> {
  info: I
  /** The answer to `payload`, and the buffers of it to transfer rather than copy. */
  handle(payload: P): Promise<{ answer: R; transfer?: ArrayBuffer[] }> | { answer: R; transfer?: ArrayBuffer[] }
  release?(): Promise<void> | void
}

/**
 * Worker side: runs `setup(workerData)`, reports ready (or its error's first line), then answers
 * calls one at a time in arrival order until released.
 */
export async function serveCalls<P, R, I>(setup: (data: unknown) => Promise<CallHandler<P, R, I>> | CallHandler<P, R, I>): Promise<void> {
  const port = parentPort
  if (port === null) throw new Error('serveCalls runs in a worker thread')
  const send = (message: CallResponse<R, I>, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer)
  let handler: CallHandler<P, R, I>
  try {
    handler = await setup(workerData)
  } catch (error) {
    send({ type: 'error', message: (error as Error).message.split('\n')[0] ?? 'unknown error' })
    return
  }
  port.on('message', (request: CallRequest<P>) => {
    if (request.type === 'release') {
      void Promise.resolve(handler.release?.()).finally(() => process.exit(0))
      return
    }
    Promise.resolve()
      .then(() => handler.handle(request.payload))
      .then(
        ({ answer, transfer }) => send({ type: 'result', id: request.id, payload: answer }, transfer),
        (error: unknown) => send({ type: 'failed', id: request.id, message: (error as Error).message }),
      )
  })
  send({ type: 'ready', info: handler.info })
}
