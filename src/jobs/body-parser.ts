/**
 * Reads a `POST /v1/jobs` body and has it judged (`body-judge.ts`): a small one (at most 64 KiB)
 * here at once, a larger one on the job-body worker (`body-worker.ts`), to which its segments
 * move as they arrive (`body-channel.ts`). The verdict becomes a {@link JobSubmission}
 * or the same error the route's parser or schema would have raised. The worker starts with the
 * first large body and again if it dies.
 */
import type { Readable } from 'node:stream'
import { AppError, errors } from '../errors.js'
import { readSegmented, type SegmentedBody } from '../http/segmented-body.js'
import { validationIssues } from '../http/validation-errors.js'
import { LazyWorker } from '../lib/worker-calls.js'
import { workerEntry } from '../lib/worker-entry.js'
import type { BodyCall, BodyWorkerData } from './body-worker.js'
import { BodyChannel } from './body-channel.js'
import { compileBodySchema, judge, type Verdict } from './body-judge.js'
import { HeldSubmission, type JobSubmission } from './submission.js'

const BODY_WORKER = workerEntry(import.meta.url, 'body-worker')
const SMALL_BODY = 64 * 1024

export class JobBodyParser {
  private readonly worker: LazyWorker<BodyCall, null>
  private readonly validate: ReturnType<typeof compileBodySchema>

  /** `schema`: the route's body schema, which bodies are checked against. */
  constructor(schema: object) {
    this.validate = compileBodySchema(schema)
    const data: BodyWorkerData = { schema: JSON.parse(JSON.stringify(schema)) as object }
    this.worker = new LazyWorker(BODY_WORKER, () => data, { respawn: true, name: 'the job-body worker' })
  }

  /** Reads the body (at most `limit` bytes; `contentLength` NaN when not declared) and judges it. */
  async parse(payload: Readable, limit: number, contentLength: number): Promise<JobSubmission> {
    const verdict = await this.judgeWhereItFits(payload, limit, contentLength)
    if (verdict.kind === 'unparsable') throw new AppError(verdict.code, verdict.message)
    if (verdict.kind === 'invalid') throw errors.validation(validationIssues(verdict.errors, 'body'))
    return verdict.body
  }

  close(): Promise<void> {
    return this.worker.release()
  }

  private judgeHere(body: SegmentedBody): Verdict<JobSubmission> {
    const verdict = judge(this.validate, body)
    return verdict.kind === 'valid' ? { kind: 'valid', body: new HeldSubmission(verdict.body.texts, verdict.body.model) } : verdict
  }

  /**
   * Holds the body here while it stays small (then judged here in microseconds, its texts kept
   * here, without starting the worker), and moves it to the worker once past {@link SMALL_BODY}.
   */
  private async judgeWhereItFits(payload: Readable, limit: number, contentLength: number): Promise<Verdict<JobSubmission>> {
    const held: Uint8Array[] = []
    let heldBytes = 0
    let channel: BodyChannel | undefined
    let taken: Promise<null> | undefined
    const sink = (segment: Uint8Array) => {
      if (channel) return channel.send(segment)
      held.push(segment)
      heldBytes += segment.length
      if (heldBytes <= SMALL_BODY) return
      channel = new BodyChannel()
      // The segments wait on the channel until the worker (started by the first large body) takes it.
      taken = this.worker.call({ port: channel.remote }, [channel.remote])
      taken.catch(() => undefined)
      for (const kept of held.splice(0)) channel.send(kept)
    }
    try {
      const length = await readSegmented(payload, limit, contentLength, sink)
      if (!channel) return this.judgeHere({ segments: held, length })
      await taken
      return await channel.finish(length)
    } catch (error) {
      channel?.close()
      throw error
    }
  }
}
