/**
 * The audit store's worker thread: owns a connection of its own and appends the batches the
 * main thread posts (see `threaded-store.ts`), one at a time, so that hashing, SQLite's work and
 * its disk waits never stop the event loop that answers requests.
 */
import { serveCalls } from '../lib/worker-calls.js'
import type { DatabaseOptions } from '../db/types.js'
import { openDatabase } from '../db/database.js'
import type { EntryValues } from './canonical.js'
import { AuditStore, type ChainHead } from './store.js'

export interface StoreWorkerData {
  storeOptions: DatabaseOptions
}

await serveCalls<EntryValues[], ChainHead, null>(async (data) => {
  const { storeOptions } = data as StoreWorkerData
  const db = await openDatabase(storeOptions)
  const store = new AuditStore(db)
  return {
    info: null,
    // serveCalls answers one batch at a time: each transaction chains after the previous one.
    handle: async (batch) => ({ answer: await store.appendValues(batch) }),
    release: () => db.close(),
  }
})
