/**
 * The WAL checkpoint thread of a SQLite store (see `wal-checkpointer.ts`): a connection of its
 * own that copies the write-ahead log into the database file when asked, so that the copy and
 * its fsyncs never stop the main thread's event loop.
 */
import SQLite from 'better-sqlite3'
import { serveCalls } from '../lib/worker-calls.js'

export interface CheckpointWorkerData {
  file: string
}

await serveCalls<null, number, null>((data) => {
  const sqlite = new SQLite((data as CheckpointWorkerData).file, { fileMustExist: true })
  sqlite.pragma('busy_timeout = 5000')
  return {
    info: null,
    // PASSIVE: copies what no reader still needs, without waiting for writers or readers.
    handle: () => {
      const [result] = sqlite.pragma('wal_checkpoint(PASSIVE)') as { checkpointed: number }[]
      return { answer: result?.checkpointed ?? 0 }
    },
    release: () => void sqlite.close(),
  }
})
