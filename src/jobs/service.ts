/**
 * Async job use cases: create, read, list, cancel — with ownership: a job belongs to the key
 * that created it and to the keys that replace it by rotation; other keys are told it does not
 * exist (404, not 403), admin keys see all.
 */
import { AppError, ErrorCode } from '../errors.js'
import { randomId } from '../keys/format.js'
import type { JobCredits } from '../accounting/credits.js'
import type { KeyService } from '../keys/service.js'
import type { Principal } from '../keys/types.js'
import type { Clock } from '../lib/clock.js'
import { resolveModel } from '../models/access.js'
import type { ModelRegistry } from '../models/registry.js'
import type { Backlog, JobFilter, JobStore } from './store.js'
import type { Job, JobResult, JobStatus } from './types.js'
import { FINISHED } from './types.js'
import type { JobTexts } from './submission.js'

interface JobCaps {
  jobsPerKey: number
  textsPerKey: number
  bytesPerKey: number
  textsPerOwner: number
  bytesPerOwner: number
}

export interface JobServiceOptions {
  store: JobStore
  models: ModelRegistry
  clock: Clock
  /** Caps on what one key (with the keys it replaced) and one owner may have queued. */
  caps: JobCaps
  /** Where a key's lineage (the keys it replaced) is found. */
  keys: Pick<KeyService, 'lineage'>
  /** Called after a job is created (wakes the worker). */
  onCreated?: () => void
}

export class JobService {
  constructor(private readonly options: JobServiceOptions) {}

  /** Admin keys see every job; other keys their own and those of the keys they replaced by rotation. */
  private async scope(principal: Principal): Promise<JobFilter> {
    return principal.scopes.includes('admin') ? {} : { keyIds: await this.options.keys.lineage(principal.keyId) }
  }

  /** Queues a job; `credits`: what its charge took from credit balances, kept for a cancellation. */
  async create(principal: Principal, texts: JobTexts, modelName?: string, credits: JobCredits | null = null): Promise<Job> {
    const model = resolveModel(this.options.models, principal, modelName)
    const job: Job = {
      id: randomId('job'),
      keyId: principal.keyId,
      bytes: texts.bytes,
      model: model.info.name,
      status: 'queued',
      total: texts.count,
      done: 0,
      error: null,
      createdAt: this.options.clock.now(),
      startedAt: null,
      finishedAt: null,
    }
    const scope = { keyIds: await this.options.keys.lineage(principal.keyId), owner: principal.owner }
    await this.options.store.insert(job, texts, scope, (backlog) => this.admit(job, backlog), credits)
    this.options.onCreated?.()
    return job
  }

  /** Throws when `job` would take its key or owner past a cap on unfinished jobs, queued texts or bytes. */
  private admit(job: Job, backlog: Backlog): void {
    const caps = this.options.caps
    if (backlog.key.jobs >= caps.jobsPerKey) {
      throw new AppError(
        ErrorCode.TooManyJobs,
        `This key already has ${caps.jobsPerKey} unfinished jobs; wait for one to finish or cancel one`,
        {
          headers: { 'retry-after': '10' },
        },
      )
    }
    const over = [
      ['key', 'texts', backlog.key.texts + job.total, caps.textsPerKey],
      ['key', 'bytes', backlog.key.bytes + job.bytes, caps.bytesPerKey],
      ['owner', 'texts', backlog.owner.texts + job.total, caps.textsPerOwner],
      ['owner', 'bytes', backlog.owner.bytes + job.bytes, caps.bytesPerOwner],
    ].find(([, , total, cap]) => (total as number) > (cap as number))
    if (over) {
      const [who, what, , cap] = over
      throw new AppError(
        ErrorCode.JobBacklogFull,
        `This job would take the ${who}'s unfinished jobs past ${String(cap)} queued ${String(what)}; wait for jobs to finish or cancel one`,
        { headers: { 'retry-after': '10' } },
      )
    }
  }

  async get(principal: Principal, id: string): Promise<Job | undefined> {
    return this.options.store.find(id, await this.scope(principal))
  }

  async list(principal: Principal, status: JobStatus | undefined, offset: number, limit: number): Promise<Job[]> {
    return this.options.store.list({ ...(await this.scope(principal)), ...(status ? { status } : {}) }, offset, limit)
  }

  /** Cancels an unfinished job; 404 for a job the key may not see, 409 once finished. */
  async cancel(principal: Principal, id: string): Promise<Job> {
    const job = await this.get(principal, id)
    if (!job) throw jobNotFound(id)
    if (FINISHED.includes(job.status) || !(await this.options.store.finish(id, 'cancelled', this.options.clock.now()))) {
      throw new AppError(ErrorCode.Conflict, `Job ${id} has already finished`)
    }
    return (await this.get(principal, id))!
  }

  /** The credits a job's submission took (null: none). */
  creditsOf(job: Job): Promise<JobCredits | null> {
    return this.options.store.creditsOf(job.id)
  }

  results(job: Job, offset: number, limit: number): Promise<JobResult[]> {
    return this.options.store.results(job.id, offset, limit)
  }
}

// Only an id of the shape we hand out is echoed: a path can hold anything, a key included.
const JOB_ID = /^job_[0-9A-Za-z]{1,64}$/

export function jobNotFound(id: string): AppError {
  return new AppError(ErrorCode.NotFound, JOB_ID.test(id) ? `No job ${id}` : 'No such job')
}
