/**
 * Runs async jobs in the background, one chunk at a time:
 *
 * - it claims a job with a lease (renewed every chunk), so a job whose worker died is picked
 *   up again once the lease runs out — by this process after a restart or by another instance;
 * - before each chunk it lets interactive requests go first (it waits, up to a bound, until
 *   the model's queue is empty) and checks that the job's key is still accepted; the job's
 *   texts were charged to the key's limits when it was submitted (`accounting/costs.ts`);
 * - results are written once per text, in one transaction per chunk with the progress count,
 *   so a crash loses at most the chunk in flight, which is computed again after the restart;
 * - a remote model whose server is unavailable puts the job aside until the server is expected
 *   back (never failed, up to 20 waits on one chunk); its texts were paid for at submission,
 *   so nothing is charged again when it runs.
 */
import type { Logger } from 'pino'
import { AppError, ErrorCode } from '../errors.js'
import type { KeyService } from '../keys/service.js'
import { refusalOf } from '../keys/types.js'
import type { Clock } from '../lib/clock.js'
import { randomId } from '../keys/format.js'
import type { ModelRegistry, ServedModel } from '../models/registry.js'
import type { JobStore } from './store.js'
import type { Job } from './types.js'

export interface JobWorkerOptions {
  store: JobStore
  models: ModelRegistry
  keys: KeyService
  clock: Clock
  log: Pick<Logger, 'info' | 'warn' | 'error'>
  /** Texts per model call. */
  chunkSize: number
  leaseMs: number
  /** How long finished jobs are kept. */
  retentionMs: number
  /** Gives the space of deleted rows back to the file system (SQLite), after each purge. */
  reclaimSpace?: () => Promise<void>
  /** How often to look for work when idle. */
  pollMs?: number
  /** Longest a chunk waits for interactive requests to drain. */
  yieldMs?: number
}

/** A failure that ends the job (as opposed to stopping the worker). */
class JobFailure extends Error {}

/** The model's server is unavailable: put the job aside for `waitMs`. */
class UpstreamWait extends Error {
  constructor(readonly waitMs: number) {
    super('upstream unavailable')
  }
}

/** After a chunk: go on with the job, or leave it (finished, cancelled, lost or put aside). */
type Step = 'next' | 'over'

const PURGE_EVERY_MS = 60_000
const MODEL_ATTEMPTS = 3
// A chunk that keeps finding its server unavailable, every time it is tried again, fails the job
// rather than wait forever (a text that crashes the server would otherwise loop).
const UPSTREAM_WAITS = 20

export class JobWorker {
  readonly owner = randomId('worker', 12)
  private running: Promise<void> | undefined
  private readonly stopping = new AbortController()
  private wake: (() => void) | undefined
  private lastPurge = 0
  /** Jobs whose last chunk was charged but not computed (its server went away): units and waits. */
  /** Times a job's chunk waited for its remote model's server, by job (in memory). */
  private readonly upstreamWaits = new Map<string, number>()

  constructor(private readonly options: JobWorkerOptions) {}

  start(): void {
    this.running ??= this.loop().catch((error: unknown) => this.options.log.error({ err: error }, 'job worker stopped on an error'))
  }

  /** Tells the worker a job was created, so it does not wait for its next poll. */
  notify(): void {
    this.wake?.()
  }

  /** Stops after the chunk in flight and hands its job back for the next start. */
  async stop(): Promise<void> {
    this.stopping.abort()
    this.wake?.()
    await this.running
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      await this.purgeIfDue()
      const job = await this.options.store.claim(this.owner, this.options.clock.now(), this.options.leaseMs)
      if (job) await this.run(job)
      else await this.idle(this.options.pollMs ?? 1000)
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }

  private async purgeIfDue(): Promise<void> {
    const now = this.options.clock.now()
    if (now - this.lastPurge < PURGE_EVERY_MS) return
    this.lastPurge = now
    const purged = await this.options.store.purge(now, this.options.retentionMs)
    if (purged > 0) this.options.log.info({ purged }, 'purged finished jobs past their retention')
    await this.options.reclaimSpace?.()
  }

  private async run(job: Job): Promise<void> {
    const { store, clock } = this.options
    const model = this.options.models.get(job.model)
    try {
      if (!model) throw new JobFailure(`model '${job.model}' is not loaded`)
      await store.markRunning(job.id, clock.now())
      let step: Step = 'next'
      while (step === 'next' && !this.stopped) step = await this.processChunk(job, model)
      if (this.stopped) await store.release(job.id, this.owner)
    } catch (error) {
      if (!(error instanceof JobFailure)) throw error
      this.upstreamWaits.delete(job.id)
      await store.finish(job.id, 'failed', clock.now(), error.message)
      this.options.log.warn({ jobId: job.id, reason: error.message }, 'job failed')
    }
  }

  /** Processes one chunk and says what comes next for this job. */
  private async processChunk(job: Job, model: ServedModel): Promise<Step> {
    const { store, clock } = this.options
    if ((await store.status(job.id)) !== 'running') return 'over'
    if (!(await store.renew(job.id, this.owner, clock.now() + this.options.leaseMs))) return 'over'
    const pending = await store.pending(job.id, this.options.chunkSize)
    if (pending.length === 0) {
      await store.finish(job.id, 'succeeded', clock.now())
      return 'over'
    }
    await this.yieldToInteractive(model)
    const unavailableMs = model.upstream?.state() === 'closed' ? 0 : (model.upstream?.retryAfterMs() ?? 0)
    if (unavailableMs > 0) {
      await store.release(job.id, this.owner, clock.now() + unavailableMs)
      return 'over'
    }
    await this.checkKey(job)
    const chunk = pending
    let results
    try {
      results = await this.classify(
        model,
        chunk.map((item) => item.text),
      )
    } catch (error) {
      if (!(error instanceof UpstreamWait)) throw error
      const waits = (this.upstreamWaits.get(job.id) ?? 0) + 1
      if (waits > UPSTREAM_WAITS) throw new JobFailure("the model's server kept failing on this input")
      this.upstreamWaits.set(job.id, waits)
      await store.release(job.id, this.owner, clock.now() + error.waitMs)
      return 'over'
    }
    this.upstreamWaits.delete(job.id)
    await store.saveResults(
      job.id,
      results.map((result, i) => ({ index: chunk[i]!.idx, label: result.label, confidence: result.confidence, scores: result.scores })),
    )
    return 'next'
  }

  private async yieldToInteractive(model: ServedModel): Promise<void> {
    const deadline = Date.now() + (this.options.yieldMs ?? 100)
    while (model.queueDepth() > 0 && Date.now() < deadline && !this.stopped) await sleep(2)
  }

  /**
   * Before each chunk: the key now standing for the job's key (itself, or the key a rotation
   * replaced it with) must be accepted, still have the predict scope and still be allowed the
   * job's model. The texts were paid at submission; what a changed policy forbids is not run.
   */
  private async checkKey(job: Job): Promise<void> {
    const record = await this.options.keys.current(job.keyId)
    if (!record || refusalOf(record, this.options.clock.now()) !== null)
      throw new JobFailure('the key that created the job is no longer active')
    if (!record.scopes.includes('predict')) throw new JobFailure('the key that created the job no longer has the predict scope')
    if (record.models !== null && !record.models.includes(job.model))
      throw new JobFailure(`the key that created the job may no longer use the model '${job.model}'`)
  }

  private async classify(model: ServedModel, texts: string[]) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await model.classify(texts)
      } catch (error) {
        if (error instanceof AppError && error.code === ErrorCode.UpstreamUnavailable) throw new UpstreamWait(retryAfterMs(error))
        const busy = error instanceof AppError && error.code === ErrorCode.ServerBusy
        if (!busy && attempt >= MODEL_ATTEMPTS) throw new JobFailure('the model failed on this input')
        await sleep(busy ? 50 : 200 * attempt)
      }
    }
  }
}

function retryAfterMs(error: AppError): number {
  return Math.max(1, Number(error.headers['retry-after'] ?? 1)) * 1000
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
