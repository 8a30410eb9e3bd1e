/**
 * The main thread's side of the audit store thread (`store-worker.ts`): `append` posts a batch
 * and resolves with the new head once the thread committed it. A thread that died fails the
 * batch in flight, which stays with the writer and is retried; the next batch starts a new
 * thread (`respawn` of `lib/worker-calls.ts`).
 */
import type { DatabaseOptions } from '../db/types.js'
import { startWorker, type WorkerClient } from '../lib/worker-calls.js'
import { workerEntry } from '../lib/worker-entry.js'
import type { EntryValues } from './canonical.js'
import { entryValues } from './canonical.js'
import type { AuditEntry } from './record.js'
import type { ChainHead } from './store.js'
import type { StoreWorkerData } from './store-worker.js'

const STORE_WORKER = workerEntry(import.meta.url, 'store-worker')

export class ThreadedAuditStore {
  private constructor(private readonly worker: WorkerClient<EntryValues[], ChainHead>) {}

  /** Starts the thread and waits until its connection is open (so that start-up errors surface here). */
  static async start(storeOptions: DatabaseOptions): Promise<ThreadedAuditStore> {
    const data: StoreWorkerData = { storeOptions }
    const { client } = await startWorker<EntryValues[], ChainHead, null>(STORE_WORKER, data, {
      respawn: true,
      name: 'the audit store worker',
    })
    return new ThreadedAuditStore(client)
  }

  /** Chains and stores a batch in the thread; resolves with the new head. */
  append(entries: readonly AuditEntry[]): Promise<ChainHead> {
    // Batches travel as arrays of values: cheaper to copy between threads than objects.
    return this.worker.call(entries.map(entryValues))
  }

  /** Closes the thread's connection, then the thread. */
  close(): Promise<void> {
    return this.worker.release()
  }
}
