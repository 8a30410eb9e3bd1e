/**
 * Keeps SQLite's WAL checkpoints off the event loop. SQLite checkpoints (copies the log into the
 * database file, with fsyncs) in whichever connection commits once the log passes 1000 pages:
 * on the main thread, each 4 MB written stalled every request for ~15-20 ms (eight times while
 * a 32 MB job was stored). The main thread's connection therefore checkpoints only as a backstop
 * (past 64 MB); a timer
 * looks at the log's size and, past 4 MB, has a thread with a connection of its own checkpoint
 * it, again every 100 ms while the log keeps being written. The thread starts the first time it
 * is needed (most stores never write that much). The log file is not truncated when SQLite
 * starts it over (truncating 30 MB of log cost the main thread ~40 ms at its next write): it
 * keeps its largest size, as SQLite's default is, and is written over from the start.
 */
import fs from 'node:fs'
import type SQLite from 'better-sqlite3'
import { LazyWorker } from '../lib/worker-calls.js'
import { workerEntry } from '../lib/worker-entry.js'
import type { CheckpointWorkerData } from './checkpoint-worker.js'

const CHECKPOINT_WORKER = workerEntry(import.meta.url, 'checkpoint-worker')
const CHECK_EVERY_MS = 100
const CHECKPOINT_BYTES = 4 * 1024 * 1024
// Should the thread fall behind or fail, the main connection still checkpoints past 64 MB of log (pages of 4 KiB).
const BACKSTOP_PAGES = 16_384

export class WalCheckpointer {
  private readonly timer: NodeJS.Timeout
  private readonly worker: LazyWorker<null, number>
  private busy = false
  private closed = false
  // The log's modification time when it was last checkpointed: unchanged, there is nothing new to copy.
  private checkpointedAt = -1

  /** Takes the checkpoints of `sqlite` (the main thread's connection to `file`) over. */
  constructor(
    sqlite: SQLite.Database,
    private readonly file: string,
  ) {
    sqlite.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`)
    const data: CheckpointWorkerData = { file }
    this.worker = new LazyWorker(CHECKPOINT_WORKER, () => data, { respawn: true, name: 'the WAL checkpoint worker' })
    this.timer = setInterval(() => void this.check(), CHECK_EVERY_MS).unref()
  }

  /** Checkpoints now if the log is past the threshold and was written since the last checkpoint; resolves when done. */
  async check(): Promise<void> {
    const log = fs.statSync(`${this.file}-wal`, { throwIfNoEntry: false })
    if (this.busy || this.closed || !log || log.size < CHECKPOINT_BYTES || log.mtimeMs === this.checkpointedAt) return
    this.busy = true
    try {
      await this.worker.call(null)
      this.checkpointedAt = log.mtimeMs
    } catch {
      // A failed checkpoint (the thread died, a disk error) is tried again at the next tick;
      // the log keeps every change meanwhile.
    } finally {
      this.busy = false
    }
  }

  async close(): Promise<void> {
    this.closed = true
    clearInterval(this.timer)
    await this.worker.release()
  }
}
