/**
 * Persistence of async jobs over the shared query layer. Work is claimed with a lease (a
 * conditional UPDATE, safe with several workers); results are written at most once per text
 * (`WHERE result IS NULL`), in one transaction per chunk together with the progress count.
 */
import { setImmediate } from 'node:timers/promises'
import type { JobCredits } from '../accounting/credits.js'
import type { Kysely, Selectable } from 'kysely'
import type { Database } from '../db/types.js'
import type { DatabaseSchema, JobsTable } from '../db/schema.js'
import type { Job, JobResult, JobStatus } from './types.js'
import type { JobTexts } from './submission.js'

// Texts per transaction while a job is received: ~50 KB of a large job, a few ms of SQLite.
const INSERT_ROWS = 200
const ITEM_COLUMNS = ['job_id', 'idx', 'text', 'result'] as const
// `not_before` of a job whose texts are still being stored: no worker takes it before then.
const RECEIVING = Number.MAX_SAFE_INTEGER
// A job still being received after this long was left by a process that stopped mid-way.
const RECEIVE_ABANDONED_MS = 3_600_000
const ACTIVE: JobStatus[] = ['queued', 'running']

async function backlogOf(trx: Kysely<DatabaseSchema>, scope: { keyIds: readonly string[]; owner: string }): Promise<Backlog> {
  const totals = (rows: { jobs: unknown; texts: unknown; bytes: unknown } | undefined) => ({
    jobs: Number(rows?.jobs ?? 0),
    texts: Number(rows?.texts ?? 0),
    bytes: Number(rows?.bytes ?? 0),
  })
  const unfinished = trx
    .selectFrom('jobs')
    .where('jobs.status', 'in', ACTIVE)
    .select((eb) => [
      eb.fn.countAll<number>().as('jobs'),
      eb.fn.sum<number>(eb('jobs.total', '-', eb.ref('jobs.done'))).as('texts'),
      eb.fn.sum<number>('jobs.bytes').as('bytes'),
    ])
  const key = await unfinished.where('jobs.key_id', 'in', scope.keyIds).executeTakeFirst()
  const owner = await unfinished
    .innerJoin('api_keys', 'api_keys.id', 'jobs.key_id')
    .where('api_keys.owner', '=', scope.owner)
    .executeTakeFirst()
  return { key: totals(key), owner: totals(owner) }
}

function jobRow(job: Job, notBefore: number | null, credits: JobCredits | null) {
  return {
    id: job.id,
    key_id: job.keyId,
    bytes: job.bytes,
    model: job.model,
    status: job.status,
    total: job.total,
    done: 0,
    error: null,
    created_at: job.createdAt,
    started_at: null,
    finished_at: null,
    credits: credits ? JSON.stringify(credits) : null,
    lease_owner: null,
    lease_until: null,
    not_before: notBefore,
  }
}

function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    keyId: row.key_id,
    bytes: Number(row.bytes),
    model: row.model,
    status: row.status,
    total: Number(row.total),
    done: Number(row.done),
    error: row.error,
    createdAt: Number(row.created_at),
    startedAt: row.started_at === null ? null : Number(row.started_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  }
}

export interface JobFilter {
  /** Only the jobs of these keys (a key and the keys it replaced); undefined: every key's (admin). */
  keyIds?: readonly string[]
  status?: JobStatus
}

/** What is queued (unfinished) for a key's lineage and for its owner: jobs, texts not yet done, bytes. */
export interface Backlog {
  key: { jobs: number; texts: number; bytes: number }
  owner: { jobs: number; texts: number; bytes: number }
}

export class JobStore {
  private readonly db: Kysely<DatabaseSchema>

  constructor(private readonly database: Database) {
    this.db = database.kysely
  }

  /**
   * Inserts a job and its texts if `admit` accepts the backlog it would join (it throws
   * otherwise). The count and the job's row are written under the store's write lock together,
   * so concurrent submissions (other requests, other instances) cannot each slip under a cap.
   * The texts follow in small transactions of their own with a turn of the event loop between
   * them (one transaction for a 32 MB job held SQLite's commit, and the event loop, for ~0.2-0.5 s),
   * while the job is marked as being received so that no worker takes it before its last text
   * is in. A failure on the way removes the job and what was stored of it.
   */
  async insert(
    job: Job,
    texts: JobTexts,
    scope: { keyIds: readonly string[]; owner: string },
    admit: (backlog: Backlog) => void,
    credits: JobCredits | null = null,
  ): Promise<void> {
    await this.database.writeTransaction(async (trx) => {
      admit(await backlogOf(trx, scope))
      await trx
        .insertInto('jobs')
        .values(jobRow(job, RECEIVING, credits))
        .execute()
    })
    try {
      // The next batch is fetched (from the job-body worker, for a large job) while this one is written.
      let next = prefetch(texts, 0)
      for (let start = 0; start < texts.count; start += INSERT_ROWS) {
        const batch = await next
        next = prefetch(texts, start + INSERT_ROWS)
        const rows = batch.map((text, i) => [job.id, start + i, text, null])
        await this.db.transaction().execute((trx) => this.database.insertRows(trx, 'job_items', ITEM_COLUMNS, rows))
        await setImmediate()
      }
    } catch (error) {
      await this.remove(job.id)
      throw error
    }
    await this.received(job.id)
  }

  /** Opens a received job to the workers; if it was cancelled meanwhile, drops its texts. */
  private async received(id: string): Promise<void> {
    const opened = await this.db
      .updateTable('jobs')
      .set({ not_before: null })
      .where('id', '=', id)
      .where('not_before', '=', RECEIVING)
      .where('status', 'in', ACTIVE)
      .executeTakeFirst()
    if (Number(opened.numUpdatedRows) === 0)
      await this.db.deleteFrom('job_items').where('job_id', '=', id).where('result', 'is', null).execute()
  }

  private async remove(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('job_items').where('job_id', '=', id).execute()
      await trx.deleteFrom('jobs').where('id', '=', id).execute()
    })
  }

  async find(id: string, filter: JobFilter = {}): Promise<Job | undefined> {
    let query = this.db.selectFrom('jobs').selectAll().where('id', '=', id)
    if (filter.keyIds !== undefined) query = query.where('key_id', 'in', filter.keyIds)
    const row = await query.executeTakeFirst()
    return row && toJob(row)
  }

  /** Newest first. */
  async list(filter: JobFilter, offset: number, limit: number): Promise<Job[]> {
    let query = this.db.selectFrom('jobs').selectAll()
    if (filter.keyIds !== undefined) query = query.where('key_id', 'in', filter.keyIds)
    if (filter.status !== undefined) query = query.where('status', '=', filter.status)
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).execute()
    return rows.map(toJob)
  }

  /** Takes the oldest unfinished, due job whose lease is free or expired; undefined when none. */
  async claim(owner: string, now: number, leaseMs: number): Promise<Job | undefined> {
    const candidates = await this.db
      .selectFrom('jobs')
      .select('id')
      .where('status', 'in', ACTIVE)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .where((eb) => eb.or([eb('not_before', 'is', null), eb('not_before', '<=', now)]))
      .orderBy('created_at')
      .limit(5)
      .execute()
    for (const { id } of candidates) {
      const result = await this.db
        .updateTable('jobs')
        .set({ lease_owner: owner, lease_until: now + leaseMs })
        .where('id', '=', id)
        .where('status', 'in', ACTIVE)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst()
      if (Number(result.numUpdatedRows) === 1) return this.find(id)
    }
    return undefined
  }

  /** Extends the lease; false when this worker no longer holds the job. */
  async renew(id: string, owner: string, until: number): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({ lease_until: until })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .executeTakeFirst()
    return Number(result.numUpdatedRows) === 1
  }

  /** Hands the job back; with `notBefore`, nobody takes it again before then. */
  async release(id: string, owner: string, notBefore: number | null = null): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ lease_owner: null, lease_until: null, not_before: notBefore })
      .where('id', '=', id)
      .where('lease_owner', '=', owner)
      .execute()
  }

  async markRunning(id: string, now: number): Promise<void> {
    await this.db
      .updateTable('jobs')
      .set({ status: 'running', started_at: now })
      .where('id', '=', id)
      .where('status', '=', 'queued')
      .execute()
  }

  /** The next texts without a result, in order. */
  async pending(id: string, limit: number): Promise<{ idx: number; text: string }[]> {
    const rows = await this.db
      .selectFrom('job_items')
      .select(['idx', 'text'])
      .where('job_id', '=', id)
      .where('result', 'is', null)
      .orderBy('idx')
      .limit(limit)
      .execute()
    return rows.map((row) => ({ idx: Number(row.idx), text: row.text ?? '' }))
  }

  /** Writes results that are not written yet and advances the progress count, atomically. */
  async saveResults(id: string, results: readonly JobResult[]): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      let written = 0
      for (const { index, ...result } of results) {
        const update = await trx
          .updateTable('job_items')
          .set({ result: JSON.stringify(result), text: null })
          .where('job_id', '=', id)
          .where('idx', '=', index)
          .where('result', 'is', null)
          .executeTakeFirst()
        written += Number(update.numUpdatedRows)
      }
      await trx
        .updateTable('jobs')
        .set((eb) => ({ done: eb('done', '+', written) }))
        .where('id', '=', id)
        .execute()
      return written
    })
  }

  /** Moves an unfinished job to a final status; false when it was finished already. */
  async finish(id: string, status: JobStatus, now: number, error: string | null = null): Promise<boolean> {
    const result = await this.db
      .updateTable('jobs')
      .set({ status, finished_at: now, error, lease_owner: null, lease_until: null })
      .where('id', '=', id)
      .where('status', 'in', ACTIVE)
      .executeTakeFirst()
    if (Number(result.numUpdatedRows) === 0) return false
    // Inputs that will never be processed are not kept: their rows are deleted, not blanked, so
    // that their pages are free for the next job (blanked rows kept every page in use, and a
    // create/cancel loop grew the SQLite file by the size of each job).
    await this.db.deleteFrom('job_items').where('job_id', '=', id).where('result', 'is', null).execute()
    return true
  }

  /** The credits a job's submission took, or null when none were. */
  async creditsOf(id: string): Promise<JobCredits | null> {
    const row = await this.db.selectFrom('jobs').select('credits').where('id', '=', id).executeTakeFirst()
    return row?.credits ? (JSON.parse(row.credits) as JobCredits) : null
  }

  async status(id: string): Promise<JobStatus | undefined> {
    const row = await this.db.selectFrom('jobs').select('status').where('id', '=', id).executeTakeFirst()
    return row?.status
  }

  /** Results with index in [offset, offset + limit), in order. */
  async results(id: string, offset: number, limit: number): Promise<JobResult[]> {
    const rows = await this.db
      .selectFrom('job_items')
      .select(['idx', 'result'])
      .where('job_id', '=', id)
      .where('idx', '>=', offset)
      .where('idx', '<', offset + limit)
      .where('result', 'is not', null)
      .orderBy('idx')
      .execute()
    return rows.map((row) => ({ index: Number(row.idx), ...(JSON.parse(row.result!) as Omit<JobResult, 'index'>) }))
  }

  /**
   * Deletes, with their items, the jobs finished more than `retentionMs` ago and those a
   * stopped process left half-received; returns how many.
   */
  async purge(now: number, retentionMs: number): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const old = trx
        .selectFrom('jobs')
        .select('id')
        .where((eb) =>
          eb.or([
            eb('finished_at', '<', now - retentionMs),
            eb.and([eb('not_before', '=', RECEIVING), eb('created_at', '<', now - RECEIVE_ABANDONED_MS)]),
          ]),
        )
      await trx.deleteFrom('job_items').where('job_id', 'in', old).execute()
      const result = await trx.deleteFrom('jobs').where('id', 'in', old).executeTakeFirst()
      return Number(result.numDeletedRows)
    })
  }
}

/** Texts [start, start + INSERT_ROWS), or none past the end; a failure is seen where it is awaited. */
function prefetch(texts: JobTexts, start: number): Promise<string[]> {
  const batch = start < texts.count ? texts.slice(start, start + INSERT_ROWS) : Promise.resolve([])
  // Marked as handled: when writing fails first, this batch is never awaited.
  batch.catch(() => undefined)
  return batch
}
