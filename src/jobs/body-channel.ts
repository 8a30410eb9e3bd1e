/**
 * One large job body's conversation with the job-body worker, on a MessagePort of its own:
 * the main thread moves each 1 MiB segment over as it arrives (`segment`, then `end`); the
 * worker parses and validates the whole body and answers a `verdict` — for a valid body only
 * its summary, for it keeps the texts. The store then asks for them a batch at a time
 * (`slice` → `texts`) and closes the channel when done, on which the worker drops them. Nothing of a 32 MB body is held
 * on the main thread at once: moving 64-90 MB through it per job set off a full garbage
 * collection (~10-20 ms of stalled event loop) for every job (bench scenario `job-ingest`).
 *
 * Main side: {@link BodyChannel}. Worker side: {@link receiveBody}.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import type { compileBodySchema, Verdict } from './body-judge.js'
import { judge } from './body-judge.js'
import { JobSubmission, summarize, type TextsSummary } from './submission.js'

type ToWorker = { type: 'segment'; bytes: Uint8Array } | { type: 'end'; length: number } | { type: 'slice'; start: number; end: number }

type FromWorker = { type: 'verdict'; verdict: Verdict<TextsSummary> } | { type: 'texts'; texts: string[] }

/** How long the worker keeps a valid body's texts without being asked for a batch. */
const IDLE_MS = 60_000

const lost = () => new Error('the job-body worker let go of the body (it stopped, or the texts were not fetched in time)')

/** The main thread's end of one body's channel. */
export class BodyChannel {
  private readonly port: MessagePort
  /** What the worker takes over: the other end of the channel. */
  readonly remote: MessagePort
  private readonly waiting: { resolve: (message: FromWorker) => void; reject: (error: Error) => void }[] = []
  private closed = false

  constructor() {
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    this.remote = port2
    port1.on('message', (message: FromWorker) => this.waiting.shift()?.resolve(message))
    port1.on('close', () => this.fail())
    port1.unref()
  }

  /** Moves a segment to the worker (the segment is unusable here afterwards). */
  send(segment: Uint8Array): void {
    this.post({ type: 'segment', bytes: segment }, [segment.buffer as ArrayBuffer])
  }

  /** Ends the body; resolves with the worker's verdict. A valid body's texts stay with the worker. */
  async finish(length: number): Promise<Verdict<JobSubmission>> {
    const answer = await this.ask({ type: 'end', length })
    if (answer.type !== 'verdict') throw lost()
    const verdict = answer.verdict
    if (verdict.kind !== 'valid') this.close()
    return verdict.kind === 'valid' ? { kind: 'valid', body: new WorkerSubmission(verdict.body, this) } : verdict
  }

  async slice(start: number, end: number): Promise<string[]> {
    const answer = await this.ask({ type: 'slice', start, end })
    if (answer.type !== 'texts') throw lost()
    return answer.texts
  }

  /** Closes the channel, on which the worker drops the body; safe to call twice. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.port.close()
  }

  private async ask(message: ToWorker): Promise<FromWorker> {
    if (this.closed) throw lost()
    // Only while an answer is awaited does the channel keep the process alive.
    this.port.ref()
    try {
      return await new Promise<FromWorker>((resolve, reject) => {
        this.waiting.push({ resolve, reject })
        this.post(message)
      })
    } finally {
      if (this.waiting.length === 0) this.port.unref()
    }
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (!this.closed) this.port.postMessage(message, transfer)
  }

  private fail(): void {
    this.closed = true
    for (const waiter of this.waiting.splice(0)) waiter.reject(lost())
  }
}

/** A large body whose texts are on the worker. */
class WorkerSubmission extends JobSubmission {
  constructor(
    summary: TextsSummary,
    private readonly channel: BodyChannel,
  ) {
    super(summary)
  }

  slice(start: number, end: number): Promise<string[]> {
    return this.channel.slice(start, end)
  }

  protected drop(): void {
    this.channel.close()
  }
}

/**
 * Worker side: collects the segments arriving on `port`, judges the body at `end`, then serves
 * batches of a valid body's texts until the channel closes (or {@link IDLE_MS} pass without a request).
 */
export function receiveBody(port: MessagePort, validate: ReturnType<typeof compileBodySchema>): void {
  let segments: Uint8Array[] = []
  let texts: string[] = []
  let idle: NodeJS.Timeout | undefined
  const answer = (message: FromWorker) => port.postMessage(message)
  const drop = () => {
    clearTimeout(idle)
    segments = []
    texts = []
  }
  const keep = () => {
    clearTimeout(idle)
    idle = setTimeout(() => port.close(), IDLE_MS).unref()
  }
  port.on('message', (message: ToWorker) => {
    if (message.type === 'segment') segments.push(message.bytes)
    else if (message.type === 'end') {
      const verdict = judge(validate, { segments, length: message.length })
      segments = []
      if (verdict.kind !== 'valid') return answer({ type: 'verdict', verdict })
      texts = verdict.body.texts
      answer({ type: 'verdict', verdict: { kind: 'valid', body: summarize(texts, verdict.body.model) } })
      keep()
    } else if (message.type === 'slice') {
      answer({ type: 'texts', texts: texts.slice(message.start, message.end) })
      keep()
    }
  })
  port.on('close', drop)
}
