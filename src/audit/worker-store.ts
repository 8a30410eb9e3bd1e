/**
 * The main thread's side of the audit store worker: `append` posts a batch and resolves with
 * the new head once the worker committed it. A worker that died is replaced at the next
 * batch; the failed batch stays with the writer, which retries it.
 */
import { Worker } from 'node:worker_threads'
import { workerEntry } from '../lib/worker-entry.js'
import type { DatabaseOptions } from '../db/database.js'
import type { EntryValues } from './canonical.js'
import { entryValues } from './canonical.js'
import type { AuditEntry } from './record.js'
import type { ChainHead } from './store.js'

// Batches travel as arrays of values: cheaper to copy between threads than objects.
export type StoreRequest = { type: 'append'; id: number; batch: EntryValues[] } | { type: 'close'; id: number }
export type StoreReply =
  | { type: 'ready'; id: 0 }
  | { type: 'appended'; id: number; head: ChainHead }
  | { type: 'failed'; id: number; message: string }
  | { type: 'closed'; id: number }

/** A request before it is given its id. */
type Unsent<T> = T extends unknown ? Omit<T, 'id'> : never

interface Pending {
  resolve: (reply: StoreReply) => void
  reject: (error: Error) => void
}

export class WorkerAuditStore {
  private worker: Worker | undefined
  private ready: Promise<void> | undefined
  private readonly pending = new Map<number, Pending>()
  private nextId = 1

  constructor(private readonly storeOptions: DatabaseOptions) {}

  /** Starts the worker and waits until its connection is open (so that start-up errors surface here). */
  async start(): Promise<void> {
    await this.connect()
  }

  private connect(): Promise<void> {
    if (this.ready) return this.ready
    const { entry, eval: isEval } = workerEntry(import.meta.url, 'store-worker')
    const worker = new Worker(entry, { eval: isEval, workerData: { storeOptions: this.storeOptions } })
    this.worker = worker
    this.ready = new Promise<void>((resolve, reject) => {
      worker.on('message', (reply: StoreReply) => {
        // An idle worker does not keep the process alive; one with a batch in flight does.
        if (reply.type === 'ready') {
          if (this.pending.size === 0) worker.unref()
          return resolve()
        }
        const pending = this.pending.get(reply.id)
        this.pending.delete(reply.id)
        pending?.resolve(reply)
        if (this.pending.size === 0) worker.unref()
      })
      const fail = (error: Error) => {
        reject(error)
        this.lost(worker, error)
      }
      worker.on('error', fail)
      worker.on('exit', (code) => fail(new Error(`the audit store worker exited (code ${code})`)))
    })
    return this.ready
  }

  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return
    this.worker = undefined
    this.ready = undefined
    for (const pending of this.pending.values()) pending.reject(error)
    this.pending.clear()
  }

  private async request(message: Unsent<StoreRequest>): Promise<StoreReply> {
    await this.connect()
    const worker = this.worker!
    const id = this.nextId++
    const reply = new Promise<StoreReply>((resolve, reject) => this.pending.set(id, { resolve, reject }))
    // Busy: keep the process alive until the worker answers (a batch is never left half done).
    worker.ref()
    worker.postMessage({ ...message, id })
    return reply
  }

  /** Chains and stores a batch in the worker; resolves with the new head. */
  async append(entries: readonly AuditEntry[]): Promise<ChainHead> {
    const reply = await this.request({ type: 'append', batch: entries.map(entryValues) })
    if (reply.type === 'failed') throw new Error(reply.message)
    if (reply.type !== 'appended') throw new Error(`unexpected reply from the audit store worker: ${reply.type}`)
    return reply.head
  }

  /** Closes the worker's connection, then the worker. */
  async close(): Promise<void> {
    const worker = this.worker
    if (!worker) return
    await this.request({ type: 'close' })
    // Its connection is closed and nothing is pending; tsx's loader (in development) would
    // otherwise keep the thread alive.
    this.lost(worker, new Error('the audit store is closed'))
    await worker.terminate()
  }
}
