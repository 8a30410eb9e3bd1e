/**
 * Writes audit records off the request path: `append` only pushes onto a bounded in-memory
 * buffer; a flush every `flushMs` (or as soon as a batch is full) writes one batch per
 * transaction. `close` writes everything that is left.
 *
 * Overload policy: while the buffer holds `capacity` records, requests that would need a
 * record are refused (503) before any work is done, and counted; the next batch starts with one
 * `unaudited` record saying how many were refused between which times. The buffer can exceed
 * `capacity` only by the requests already admitted when it filled, each of which holds its
 * own memory anyway, so memory stays bounded when the store is slow or down.
 *
 * Requests refused before any key was identified are not recorded one by one but counted
 * (`tally.ts`): one `unauthenticated` record per address, minute and outcome, written once the
 * minute is over.
 */
import type { Logger } from 'pino'
import type { Clock } from '../lib/clock.js'
import type { AdminEvent, AuditEntry } from './record.js'
import { adminEntry, unauditedEntry } from './record.js'
import type { UnauthenticatedRequest } from './tally.js'
import { AddressTally } from './tally.js'

/** Where administrative actions are reported (the key service depends on this only). */
export interface AuditSink {
  admin(event: AdminEvent): void | Promise<void>
}

/** Told about every batch, for metrics. */
export interface AuditObserver {
  written(records: number, seconds: number): void
  failed(): void
  refused(): void
}

export interface AuditWriterOptions {
  store: { append(entries: readonly AuditEntry[]): Promise<unknown> }
  clock: Clock
  log: Pick<Logger, 'error' | 'warn'>
  /** Most records buffered before requests are refused. */
  capacity: number
  /** Longest a record waits before its batch is written. */
  flushMs: number
  /** Most records per transaction; default 500. */
  batchSize?: number
  observer?: AuditObserver
}

interface Refused {
  count: number
  from: number
  to: number
}

interface Batch {
  entries: AuditEntry[]
  refused: Refused | null
}

// Attempts to write what is left when closing, a store hiccup apart.
const CLOSE_ATTEMPTS = 5

export class AuditWriter implements AuditSink {
  private buffer: AuditEntry[] = []
  private refused: Refused | null = null
  private timer: NodeJS.Timeout | undefined
  private tallyTimer: NodeJS.Timeout | undefined
  private readonly unauthenticated = new AddressTally()
  private immediate: NodeJS.Immediate | undefined
  private flushing: Promise<void> | undefined
  private failing = false
  private closed = false
  private readonly batchSize: number

  constructor(private readonly options: AuditWriterOptions) {
    this.batchSize = options.batchSize ?? 500
  }

  /** Records waiting to be written. */
  get depth(): number {
    return this.buffer.length
  }

  get capacity(): number {
    return this.options.capacity
  }

  /** False while the buffer is full: a request that needs a record must then be refused. */
  hasRoom(): boolean {
    return this.buffer.length < this.options.capacity
  }

  /** Counts a request refused because the buffer was full; summarised in the next batch. */
  refuse(): void {
    const now = this.options.clock.now()
    if (this.refused) {
      this.refused.count++
      this.refused.to = now
    } else {
      this.refused = { count: 1, from: now, to: now }
    }
    this.options.observer?.refused()
    this.schedule()
  }

  /** Buffers a record; O(1), never waits. */
  append(entry: AuditEntry): void {
    if (this.closed) {
      this.options.log.error({ kind: entry.kind, requestId: entry.requestId }, 'audit record after close: not written')
      return
    }
    this.buffer.push(entry)
    this.schedule()
  }

  /** Counts a request refused before any key was identified; summarised once its minute is over. */
  tally(request: UnauthenticatedRequest): void {
    if (this.closed) return
    this.unauthenticated.count(request)
    if (!this.tallyTimer) this.rearmTally()
  }

  /** Records an administrative action (never refused: they are rare and must not be lost). */
  admin(event: AdminEvent): void {
    this.append(adminEntry(this.options.clock.now(), event))
  }

  private schedule(): void {
    if (this.flushing || this.closed) return
    if (this.buffer.length >= this.batchSize && !this.failing) {
      clearTimeout(this.timer)
      this.timer = undefined
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined
        void this.flush()
      })
      return
    }
    // While the store fails, retry about once a second rather than in a hot loop.
    const delay = this.failing ? Math.max(this.options.flushMs, 1000) : this.options.flushMs
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      void this.flush()
    }, delay).unref()
  }

  /**
   * Writes every buffered record now, with the summaries of the minutes that are over; a failed
   * batch stays buffered and is retried later.
   */
  flush(): Promise<void> {
    this.buffer.push(...this.unauthenticated.take(this.closed ? Infinity : this.options.clock.now()))
    if (this.unauthenticated.size > 0 && !this.tallyTimer && !this.closed) this.rearmTally()
    this.flushing ??= this.drain()
      .catch((error: unknown) => this.onFailure(error))
      .finally(() => {
        this.flushing = undefined
        if (this.buffer.length > 0 || this.refused) this.schedule()
      })
    return this.flushing
  }

  private rearmTally(): void {
    const closes = this.unauthenticated.nextClose()
    if (closes === undefined) return
    this.tallyTimer = setTimeout(
      () => {
        this.tallyTimer = undefined
        void this.flush()
      },
      Math.max(closes - this.options.clock.now(), this.options.flushMs),
    ).unref()
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0 || this.refused) {
      const batch = this.take()
      const started = performance.now()
      try {
        await this.options.store.append(batch.entries)
      } catch (error) {
        this.putBack(batch)
        throw error
      }
      this.options.observer?.written(batch.entries.length, (performance.now() - started) / 1000)
      if (this.failing) this.options.log.warn({ buffered: this.buffer.length }, 'audit store writable again')
      this.failing = false
    }
  }

  private onFailure(error: unknown): void {
    this.options.observer?.failed()
    if (!this.failing) this.options.log.error({ err: error, buffered: this.buffer.length }, 'audit batch could not be written; retrying')
    this.failing = true
  }

  private take(): Batch {
    const refused = this.refused
    this.refused = null
    const entries = this.buffer.splice(0, refused ? this.batchSize - 1 : this.batchSize)
    if (refused) entries.unshift(unauditedEntry(this.options.clock.now(), refused.count, refused.from, refused.to))
    return { entries, refused }
  }

  private putBack(batch: Batch): void {
    const entries = batch.refused ? batch.entries.slice(1) : batch.entries
    this.buffer = entries.concat(this.buffer)
    if (!batch.refused) return
    const later = this.refused
    this.refused = later ? { count: batch.refused.count + later.count, from: batch.refused.from, to: later.to } : batch.refused
  }

  /** Stops the timers and writes everything left; throws if the store keeps failing. */
  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    clearTimeout(this.tallyTimer)
    if (this.immediate) clearImmediate(this.immediate)
    for (let attempt = 1; ; attempt++) {
      await this.flushing
      await this.flush()
      if (this.buffer.length === 0 && !this.refused) return
      if (attempt === CLOSE_ATTEMPTS) break
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt))
    }
    const left = this.buffer.length
    throw new Error(`${left} audit record(s) could not be written before closing`)
  }
}
