/**
 * Request/answer calls to a worker thread that owns something slow (an ONNX Runtime session, the
 * built-in model's evaluator, the audit store's connection): the main thread posts a payload, the
 * worker answers the calls one at a time in arrival order, and a worker that dies fails every
 * call in flight instead of leaving it hanging. With `respawn`, the next call then starts a new
 * worker in its place; without, every later call fails.
 *
 * Main thread: `startWorker(entry, data, options)` resolves once the worker reported ready, with
 * its `info` and a {@link WorkerClient}. Worker: `serveCalls(setup)`.
 */
import { parentPort, Worker, workerData, type TransferListItem } from 'node:worker_threads'
import type { WorkerEntry } from './worker-entry.js'

type CallRequest<P> = { type: 'call'; id: number; payload: P } | { type: 'release' }

type CallResponse<R, I> =
  | { type: 'ready'; info: I }
  | { type: 'error'; message: string }
  | { type: 'result'; id: number; payload: R }
  | { type: 'failed'; id: number; message: string }

interface Pending<R> {
  resolve: (answer: R) => void
  reject: (error: Error) => void
}

/** Options of {@link startWorker}. */
export interface StartOptions {
  /** Buffers of `data` that move to the worker rather than being copied (not with `respawn`: they move once). */
  transfer?: readonly ArrayBuffer[]
  /** After the worker died, start a new one with the same `data` at the next call. */
  respawn?: boolean
  /** How error messages name the worker; default "the worker". */
  name?: string
}

/** The main thread's side of a started worker. */
export class WorkerClient<P, R> {
  private worker: Worker | undefined
  private starting: Promise<void> | undefined
  private readonly pending = new Map<number, Pending<R>>()
  private nextId = 1
  // Set once the client can no longer call: released, or its worker died without `respawn`.
  private failure: Error | undefined

  /** Built by {@link startWorker}; `restart` starts a replacement worker (`respawn`). */
  constructor(
    worker: Worker,
    private readonly name: string,
    private readonly restart?: () => Promise<Worker>,
  ) {
    this.attach(worker)
  }

  /** Posts `payload` (the buffers and ports in `transfer` move to the worker) and waits for the answer. */
  call(payload: P, transfer: readonly TransferListItem[] = []): Promise<R> {
    if (this.failure) return Promise.reject(this.failure)
    const worker = this.worker
    if (!worker) return this.replace().then(() => this.call(payload, transfer))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) worker.ref()
      this.pending.set(id, { resolve, reject })
      worker.postMessage({ type: 'call', id, payload } satisfies CallRequest<P>, [...transfer])
    })
  }

  /** Asks the worker to answer what it was sent, release what it owns and exit; waits for the exit. */
  async release(): Promise<void> {
    if (this.failure) return
    this.failure = new Error(`${this.name} was released`)
    await this.starting?.catch(() => undefined)
    const worker = this.worker
    if (!worker) return
    worker.ref()
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    worker.postMessage({ type: 'release' } satisfies CallRequest<P>)
    await exited
  }

  private attach(worker: Worker): void {
    this.worker = worker
    worker.on('message', (message: CallResponse<R, unknown>) => this.settle(worker, message))
    worker.on('error', (error) => this.lost(worker, error))
    worker.on('exit', (code) => this.lost(worker, new Error(`${this.name} exited (code ${code})`)))
    // An idle worker does not keep the process alive; one with calls in flight does.
    worker.unref()
  }

  /** Starts the replacement of a worker that died (one start for every call waiting on it). */
  private replace(): Promise<void> {
    this.starting ??= this.restart!()
      .then((worker) => this.attach(worker))
      .finally(() => (this.starting = undefined))
    return this.starting
  }

  private settle(worker: Worker, message: CallResponse<R, unknown>): void {
    if (message.type !== 'result' && message.type !== 'failed') return
    const pending = this.pending.get(message.id)
    if (!pending) return
    this.pending.delete(message.id)
    // Once released, the worker stays referenced until it exited.
    if (this.pending.size === 0 && !this.failure) worker.unref()
    if (message.type === 'result') pending.resolve(message.payload)
    else pending.reject(new Error(message.message))
  }

  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return
    this.worker = undefined
    if (!this.restart) this.failure ??= error
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }
}

/**
 * Starts the worker module `entry` with `data`; resolves with what its set-up reported, or
 * rejects with the set-up's error message.
 */
export async function startWorker<P, R, I>(
  entry: WorkerEntry,
  data: unknown,
  options: StartOptions = {},
): Promise<{ client: WorkerClient<P, R>; info: I }> {
  const { transfer = [], respawn = false, name = 'the worker' } = options
  if (respawn && transfer.length > 0) throw new TypeError('a worker that respawns cannot be given transferred buffers')
  const { worker, info } = await spawn<I>(entry, data, transfer, name)
  const restart = respawn ? async () => (await spawn<I>(entry, data, [], name)).worker : undefined
  return { client: new WorkerClient<P, R>(worker, name, restart), info }
}

/**
 * A worker started at its first call (and again after a start that failed), for work most
 * processes never need: a thread costs memory and a start, paid only when used.
 */
export class LazyWorker<P, R> {
  private client: Promise<WorkerClient<P, R>> | undefined

  constructor(
    private readonly entry: WorkerEntry,
    private readonly data: () => unknown,
    private readonly options: StartOptions = {},
  ) {}

  async call(payload: P, transfer: readonly TransferListItem[] = []): Promise<R> {
    return (await this.started()).call(payload, transfer)
  }

  /** Releases the worker if it was started. */
  async release(): Promise<void> {
    const client = await this.client?.catch(() => undefined)
    await client?.release()
  }

  private started(): Promise<WorkerClient<P, R>> {
    this.client ??= startWorker<P, R, unknown>(this.entry, this.data(), this.options).then(
      ({ client }) => client,
      (error: unknown) => {
        this.client = undefined
        throw error
      },
    )
    return this.client
  }
}

/** A new worker, once it reported ready. */
function spawn<I>(entry: WorkerEntry, data: unknown, transfer: readonly ArrayBuffer[], name: string): Promise<{ worker: Worker; info: I }> {
  const worker = new Worker(entry.entry, { eval: entry.eval, workerData: data, transferList: [...transfer] })
  return new Promise((resolve, reject) => {
    const onMessage = (message: CallResponse<unknown, I>) => {
      if (message.type === 'ready') {
        cleanup()
        resolve({ worker, info: message.info })
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
    const onExit = (code: number) => onError(new Error(`${name} exited (code ${code}) before it was ready`))
    const cleanup = () => {
      worker.off('message', onMessage)
      worker.off('error', onError)
      worker.off('exit', onExit)
    }
    worker.on('message', onMessage)
    worker.on('error', onError)
    worker.on('exit', onExit)
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
  const answer = async (request: CallRequest<P>): Promise<void> => {
    if (request.type === 'release') {
      await Promise.resolve(handler.release?.()).finally(() => process.exit(0))
      return
    }
    try {
      const { answer, transfer } = await handler.handle(request.payload)
      send({ type: 'result', id: request.id, payload: answer }, transfer)
    } catch (error) {
      send({ type: 'failed', id: request.id, message: (error as Error).message })
    }
  }
  // A call that waits (the audit store's transaction) holds the next ones back: they stay in order.
  let queue = Promise.resolve()
  port.on('message', (request: CallRequest<P>) => {
    queue = queue.then(() => answer(request))
  })
  send({ type: 'ready', info: handler.info })
}
