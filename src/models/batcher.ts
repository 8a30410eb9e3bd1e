/**
 * Micro-batching: texts submitted by concurrent requests are gathered into one model call.
 *
 * When the model is idle, a batch is sent as soon as `maxWaitMs` has passed since its first
 * text (0: at the end of the current event-loop turn), or at once when it is full. While a
 * batch runs, new texts queue up and go together in the next call: under load, batches grow
 * by themselves without adding latency at low load.
 */
import type { Classification } from './types.js'

export interface BatcherOptions {
  /** Most texts in one model call. */
  maxBatch: number
  /** How long the first text of a batch may wait for others while the model is idle. */
  maxWaitMs: number
}

interface Pending {
  text: string
  resolve: (result: Classification) => void
  reject: (error: unknown) => void
}

type RunBatch = (texts: string[]) => Promise<Classification[]>

export class Batcher {
  private queue: Pending[] = []
  private running = false
  private scheduled = false

  constructor(
    private readonly run: RunBatch,
    private readonly options: BatcherOptions,
  ) {}

  /** Number of texts waiting for a model call. */
  get depth(): number {
    return this.queue.length
  }

  /** Classifies texts; result `i` belongs to `texts[i]`. */
  submit(texts: readonly string[]): Promise<Classification[]> {
    const results = texts.map((text) => new Promise<Classification>((resolve, reject) => {
      this.queue.push({ text, resolve, reject })
    }))
    this.schedule()
    return Promise.all(results)
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return
    if (this.queue.length >= this.options.maxBatch) {
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

  private dispatch(): void {
    if (this.running || this.queue.length === 0) return
    const batch = this.queue.splice(0, this.options.maxBatch)
    this.running = true
    this.run(batch.map((item) => item.text)).then(
      (results) => batch.forEach((item, i) => item.resolve(results[i]!)),
      (error: unknown) => batch.forEach((item) => item.reject(error)),
    ).finally(() => {
      this.running = false
      // Whatever queued during the call goes next, without waiting again.
      if (this.queue.length > 0) this.dispatch()
    })
  }
}
