/**
 * Micro-batching with backpressure: texts submitted by concurrent requests are gathered into
 * one model call, the queue is bounded, and every submission has a deadline and can be
 * cancelled.
 *
 * When the model is idle, a batch is sent as soon as `maxWaitMs` has passed since its first
 * text (0: at the end of the current event-loop turn), or at once when it is full. While a
 * batch runs, new texts queue up and go together in the next call: under load, batches grow
 * by themselves without adding latency at low load.
 *
 * A submission that would overflow the queue is refused at once (503 `server_busy`); one whose
 * deadline passes gets 504 `prediction_timeout`; a cancelled one (client gone) is dropped. In
 * both cases its texts still waiting in the queue are never sent to the model, and a model call
 * whose every caller gave up is aborted through its `AbortSignal` (a remote model's request is
 * cut; a local model may ignore the signal).
 *
 * `concurrency` model calls may run at once (1 for a local model; a remote server that takes one
 * text per call gets `maxBatch` 1 and several calls in flight).
 */
import { AppError, ErrorCode } from '../errors.js'
import type { Classification } from './types.js'

export interface BatcherOptions {
  /** Most texts in one model call. */
  maxBatch: number
  /** How long the first text of a batch may wait for others while the model is idle. */
  maxWaitMs: number
  /** Most texts waiting for the model; beyond it, submissions are refused with 503. */
  maxQueue: number
  /** Model calls in flight at once; default 1. */
  concurrency?: number
}

/** What the batcher tells, and asks, its owner. */
export interface BatcherHooks {
  /** Told about each model call, for metrics. */
  observe?: BatchObserver
  /**
   * The error for a caller whose deadline passes while the model is computing its texts (as
   * opposed to while they wait in the queue); default 504 `prediction_timeout` either way.
   */
  lateError?: () => Error
}

export interface SubmitOptions {
  /** Epoch milliseconds after which the caller gets 504 and its queued texts are dropped. */
  deadline?: number
}

/** A submission in flight: its results, and a way to give up on it. */
export interface Submission {
  results: Promise<Classification[]>
  /** Drops the texts still queued and rejects `results` with `reason`. */
  cancel(reason: Error): void
}

/** Told about each model call, for metrics. */
export type BatchObserver = (batchSize: number, durationMs: number) => void

interface Group {
  texts: readonly string[]
  results: Classification[]
  /** Texts of the group not yet answered. */
  pending: number
  /** Texts of the group still in the queue. */
  queued: number
  done: boolean
  resolve: (results: Classification[]) => void
  reject: (error: unknown) => void
  timer?: NodeJS.Timeout
  /** Model calls in flight that carry some of the group's texts. */
  flights?: Set<Flight>
}

/** One model call in flight: aborted once every group it serves has given up. */
interface Flight {
  controller: AbortController
  /** Groups with texts in this call that still wait for it. */
  waiting: Set<Group>
}

interface Item {
  group: Group
  index: number
}

type RunBatch = (texts: string[], signal: AbortSignal) => Promise<Classification[]>

// Recent model calls weigh this much in the running average used for Retry-After.
const EWMA_WEIGHT = 0.2

export class Batcher {
  private queue: Item[] = []
  private head = 0
  /** Queued texts whose callers still wait (cancelled ones are skipped, not counted). */
  private live = 0
  private running = 0
  private scheduled = false
  private averageBatchMs = 0
  private readonly concurrency: number

  constructor(
    private readonly run: RunBatch,
    private readonly options: BatcherOptions,
    private readonly hooks: BatcherHooks = {},
  ) {
    this.concurrency = options.concurrency ?? 1
  }

  /** Number of texts waiting for a model call. */
  get depth(): number {
    return this.live
  }

  /** Queues texts for classification; result `i` belongs to `texts[i]`. */
  submit(texts: readonly string[], options: SubmitOptions = {}): Submission {
    if (this.depth + texts.length > this.options.maxQueue) throw this.busy()
    let group!: Group
    const results = new Promise<Classification[]>((resolve, reject) => {
      group = { texts, results: new Array<Classification>(texts.length), pending: texts.length, queued: texts.length, done: false, resolve, reject }
    })
    if (options.deadline !== undefined) {
      const timeout = Math.max(0, options.deadline - Date.now())
      group.timer = setTimeout(() => this.fail(group, group.flights?.size && this.hooks.lateError ? this.hooks.lateError() : timedOut()), timeout)
    }
    for (let index = 0; index < texts.length; index++) this.queue.push({ group, index })
    this.live += texts.length
    this.schedule()
    return { results, cancel: (reason) => this.fail(group, reason) }
  }

  private busy(): AppError {
    const batchesAhead = Math.ceil(this.depth / this.options.maxBatch) + 1
    const seconds = Math.max(1, Math.ceil((batchesAhead * this.averageBatchMs) / this.concurrency / 1000))
    return new AppError(ErrorCode.ServerBusy, 'The model is busy: its queue is full. Try again shortly.', {
      headers: { 'retry-after': String(seconds) },
    })
  }

  private fail(group: Group, reason: unknown): void {
    if (group.done) return
    group.done = true
    clearTimeout(group.timer)
    this.live -= group.queued
    group.queued = 0
    group.reject(reason)
    for (const flight of group.flights ?? []) {
      flight.waiting.delete(group)
      if (flight.waiting.size === 0) flight.controller.abort(reason)
    }
  }

  private schedule(): void {
    if (this.running >= this.concurrency || this.scheduled || this.depth === 0) return
    if (this.depth >= this.options.maxBatch) {
      this.dispatch()
      return
    }
    this.scheduled = true
    const fire = () => {
      this.scheduled = false
      this.dispatch()
    }
    if (this.options.maxWaitMs > 0) setTimeout(fire, this.options.maxWaitMs)
    else setImmediate(fire)
  }

  /** Takes up to maxBatch live items off the queue, skipping those whose caller gave up. */
  private take(): Item[] {
    const batch: Item[] = []
    while (batch.length < this.options.maxBatch && this.head < this.queue.length) {
      const item = this.queue[this.head++]!
      if (item.group.done) continue
      item.group.queued--
      this.live--
      batch.push(item)
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return batch
  }

  private dispatch(): void {
    while (this.running < this.concurrency) {
      const batch = this.take()
      if (batch.length === 0) return
      this.send(batch)
    }
  }

  private send(batch: Item[]): void {
    this.running++
    const flight: Flight = { controller: new AbortController(), waiting: new Set() }
    for (const { group } of batch) {
      if (flight.waiting.has(group)) continue
      flight.waiting.add(group)
      ;(group.flights ??= new Set()).add(flight)
    }
    const started = performance.now()
    this.run(
      batch.map((item) => item.group.texts[item.index]!),
      flight.controller.signal,
    )
      .then(
        (results) => batch.forEach((item, i) => this.deliver(item, results[i]!)),
        (error: unknown) => batch.forEach((item) => this.fail(item.group, error)),
      )
      .finally(() => {
        for (const group of flight.waiting) group.flights!.delete(flight)
        const elapsed = performance.now() - started
        this.averageBatchMs = this.averageBatchMs === 0 ? elapsed : this.averageBatchMs + EWMA_WEIGHT * (elapsed - this.averageBatchMs)
        this.hooks.observe?.(batch.length, elapsed)
        this.running--
        // Whatever queued during the call goes next, without waiting again.
        if (this.depth > 0) this.dispatch()
      })
  }

  private deliver(item: Item, result: Classification): void {
    const group = item.group
    if (group.done) return
    group.results[item.index] = result
    if (--group.pending > 0) return
    group.done = true
    clearTimeout(group.timer)
    group.resolve(group.results)
  }
}

function timedOut(): AppError {
  return new AppError(ErrorCode.PredictionTimeout, 'The prediction did not finish in time')
}
