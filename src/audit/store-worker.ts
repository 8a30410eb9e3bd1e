/**
 * The audit store's worker thread: owns a connection of its own and appends the batches the
 * main thread posts, one at a time, so that hashing, SQLite's work and its disk waits never
 * stop the event loop that answers requests.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { DatabaseOptions } from '../db/database.js'
import { openDatabase } from '../db/database.js'
import { AuditStore } from './store.js'
import type { StoreReply, StoreRequest } from './worker-store.js'

const port = parentPort!
const { storeOptions } = workerData as { storeOptions: DatabaseOptions }
const db = await openDatabase(storeOptions)
const store = new AuditStore(db)
let queue: Promise<void> = Promise.resolve()

async function handle(request: StoreRequest): Promise<StoreReply> {
  if (request.type === 'close') {
    await db.close()
    return { type: 'closed', id: request.id }
  }
  try {
    const head = await store.appendValues(request.batch)
    return { type: 'appended', id: request.id, head }
  } catch (error) {
    return { type: 'failed', id: request.id, message: (error as Error).message }
  }
}

port.on('message', (request: StoreRequest) => {
  queue = queue.then(async () => {
    const reply = await handle(request)
    port.postMessage(reply)
  })
})
port.postMessage({ type: 'ready', id: 0 } satisfies StoreReply)
