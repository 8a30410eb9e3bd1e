/**
 * Async job use cases: create, read, list, cancel — with ownership: a job belongs to the key
 * that created it and to the keys that replace it by rotation; other keys are told it does not
 * exist (404, not 403), admin keys see all.
 */
import { AppError, ErrorCode } from '../errors.js'
import { randomId } from '../keys/format.js'
import type { KeyService } from '../keys/service.js'
import type { Principal } from '../keys/types.js'
import type { Clock } from '../lib/clock.js'
import { resolveModel } from '../models/access.js'
import type { ModelRegistry } from '../models/registry.js'
import type { JobFilter, JobStore } from './store.js'
import type { Job, JobResult, JobStatus } from './types.js'
import { FINISHED } from './types.js'

export interface JobServiceOptions {
  store: JobStore
  models: ModelRegistry
  clock: Clock
  /** Most unfinished jobs one key may have. */
  maxActivePerKey: number
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

  async create(principal: Principal, texts: readonly string[], modelName?: string): Promise<Job> {
    const model = resolveModel(this.options.models, principal, modelName)
    if ((await this.options.store.countActive(await this.options.keys.lineage(principal.keyId))) >= this.options.maxActivePerKey) {
      throw new AppError(
        ErrorCode.TooManyJobs,
        `This key already has ${this.options.maxActivePerKey} unfinished jobs; wait for one to finish or cancel one`,
        {
          headers: { 'retry-after': '10' },
        },
      )
    }
    const job: Job = {
      id: randomId('job'),
      keyId: principal.keyId,
      model: model.info.name,
      status: 'queued',
      total: texts.length,
      done: 0,
      error: null,
      createdAt: this.options.clock.now(),
      startedAt: null,
      finishedAt: null,
    }
    await this.options.store.insert(job, texts)
    this.options.onCreated?.()
    return job
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

  results(job: Job, offset: number, limit: number): Promise<JobResult[]> {
    return this.options.store.results(job.id, offset, limit)
  }
}

// Only an id of the shape we hand out is echoed: a path can hold anything, a key included.
const JOB_ID = /^job_[0-9A-Za-z]{1,64}$/

export function jobNotFound(id: string): AppError {
  return new AppError(ErrorCode.NotFound, JOB_ID.test(id) ? `No job ${id}` : 'No such job')
}
