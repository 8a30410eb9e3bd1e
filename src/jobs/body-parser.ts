/**
 * Reads a `POST /v1/jobs` body into segments and has it judged (`body-judge.ts`): a small one
 * here at once, a large one on the job-body worker (`body-worker.ts`; the segments move there,
 * not copied). The verdict becomes a {@link JobSubmission} or the same error the route's parser
 * or schema would have raised. The worker starts with the first large body and again if it dies.
 */
import type { Readable } from 'node:stream'
import { AppError, errors } from '../errors.js'
import { readSegmented, type SegmentedBody } from '../http/segmented-body.js'
import { validationIssues } from '../http/validation-errors.js'
import { LazyWorker } from '../lib/worker-calls.js'
import { workerEntry } from '../lib/worker-entry.js'
import type { BodyWorkerData } from './body-worker.js'
import { compileBodySchema, judge, type BodyVerdict } from './body-judge.js'
import { JobSubmission } from './submission.js'

const BODY_WORKER = workerEntry(import.meta.url, 'body-worker')
const SMALL_BODY = 64 * 1024

export class JobBodyParser {
  private readonly worker: LazyWorker<SegmentedBody, BodyVerdict>
  private readonly validate: ReturnType<typeof compileBodySchema>

  /** `schema`: the route's body schema, which bodies are checked against. */
  constructor(schema: object) {
    this.validate = compileBodySchema(schema)
    const data: BodyWorkerData = { schema: JSON.parse(JSON.stringify(schema)) as object }
    this.worker = new LazyWorker(BODY_WORKER, () => data, { respawn: true, name: 'the job-body worker' })
  }

  /** Reads the body (at most `limit` bytes) and judges it. */
  async parse(payload: Readable, limit: number, contentLength: number): Promise<JobSubmission> {
    const body = await readSegmented(payload, limit, contentLength)
    // A small body is judged here at once (microseconds); a large one on the worker.
    const verdict =
      body.length <= SMALL_BODY
        ? judge(this.validate, body)
        : await this.worker.call(
            body,
            body.segments.map((segment) => segment.buffer as ArrayBuffer),
          )
    if (verdict.kind === 'unparsable') throw new AppError(verdict.code, verdict.message)
    if (verdict.kind === 'invalid') throw errors.validation(validationIssues(verdict.errors, 'body'))
    return new JobSubmission(verdict.body)
  }

  close(): Promise<void> {
    return this.worker.release()
  }
}
