/**
 * Async jobs: `POST /v1/jobs` queues up to `--max-job-texts` texts and answers 202 at once;
 * `GET /v1/jobs/{id}` shows progress and, once finished, the results page by page;
 * `GET /v1/jobs` lists the key's jobs; `DELETE /v1/jobs/{id}` cancels. A job costs one unit per
 * text, charged whole at submission; reading and cancelling are free. A job is visible only
 * to the key that created it (and to admin keys): any other key gets 404.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { errors } from '../errors.js'
import { NOT_BLANK } from '../http/texts.js'
import { jobNotFound } from '../jobs/service.js'
import type { Job } from '../jobs/types.js'
import { sentimentField } from '../models/sentiment.js'
import { FINISHED } from '../jobs/types.js'
import { free, textUnits } from '../accounting/costs.js'
import { resolveModel } from '../models/access.js'
import { ErrorResponse, NO_CONTROLS, Offset, protectedErrors } from './common.js'
import type { Scope } from '../keys/types.js'
import { requirePrincipal } from '../http/ledger.js'
import { VALIDATED_BY_PARSER } from '../http/validated-body.js'
import { JobBodyParser } from '../jobs/body-parser.js'
import type { JobSubmission } from '../jobs/submission.js'
import { UploadSlots } from '../jobs/upload-slots.js'
import { useJsonParser } from '../plugins/json-body.js'

// Reading and cancelling jobs is also open to admin-only keys (operators, the dashboard), which see every key's jobs.
const READ_SCOPES: Scope[] = ['predict', 'admin']

export interface JobRoutesOptions {
  maxTextLength: number
  maxJobTexts: number
  maxJobBodyBytes: number
}

const Status = Type.Union([
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
])
const Result = Type.Object({
  index: Type.Integer(),
  label: Type.String(),
  sentiment: Type.Optional(Type.String()),
  confidence: Type.Number(),
  scores: Type.Record(Type.String(), Type.Number()),
})
const JobView = Type.Object({
  id: Type.String(),
  status: Status,
  model: Type.String(),
  total: Type.Integer(),
  done: Type.Integer({ description: 'Texts with a result so far' }),
  error: Type.Union([Type.String(), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  started_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finished_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  results: Type.Optional(Type.Array(Result, { description: 'Once finished: the page of results asked for' })),
  next_offset: Type.Optional(Type.Union([Type.Integer(), Type.Null()], { description: 'Offset of the next page, null after the last' })),
})
const Paging = {
  offset: Offset,
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
}
const IdParams = Type.Object({ id: Type.String({ maxLength: 64, pattern: NO_CONTROLS }) })
const notFound = { 404: { ...ErrorResponse, description: 'No such job for this key (`not_found`)' } }

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

function view(job: Job) {
  return {
    id: job.id,
    status: job.status,
    model: job.model,
    total: job.total,
    done: job.done,
    error: job.error,
    created_at: iso(job.createdAt)!,
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
  }
}

/**
 * `POST /v1/jobs`, in a context of its own whose JSON parser runs on the job-body worker: a
 * 32 MB body is parsed and validated there, and its texts are stored a batch at a time, so the
 * event loop keeps answering other requests meanwhile (bench scenario `job-ingest`).
 */
async function submitRoute(fastify: FastifyInstance, options: JobRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { jobs, models, meter } = app.services
  const body = Type.Object(
    {
      // No NUL: a job's texts are stored, and PostgreSQL text cannot hold one.
      texts: Type.Array(Type.String({ maxLength: options.maxTextLength, pattern: '^[^\\u0000]*$', [NOT_BLANK]: true }), {
        minItems: 1,
        maxItems: options.maxJobTexts,
      }),
      model: Type.Optional(Type.String({ maxLength: 128, description: 'Default: the default model' })),
    },
    { [VALIDATED_BY_PARSER]: true },
  )
  const parser = new JobBodyParser(body)
  const uploads = new UploadSlots(options.maxJobBodyBytes)
  // A large body's texts wait on the job-body worker until stored. A job refused before its
  // handler stores it (limits, model, scope), or whose client left first, lets them go when its
  // request finishes, answered or abandoned; one being stored is stored whole and runs.
  useJsonParser(fastify, async (request, payload) => {
    const declared = Number(request.headers['content-length'])
    const submission = await uploads.run(requirePrincipal(request).keyId, declared, () =>
      parser.parse(payload, options.maxJobBodyBytes, declared),
    )
    request.ledger.onFinished(() => submission.releaseUnlessStoring())
    return submission
  })
  fastify.addHook('onClose', () => parser.close())
  // A job is charged whole at submission (accounting/costs.ts), after its model is checked, so
  // that a refused job costs nothing; a job that cannot be stored is given its charge back.
  const jobCost = (request: FastifyRequest) => {
    const submission = request.body as JobSubmission
    return textUnits(submission.count, resolveModel(models, requirePrincipal(request), submission.model))
  }
  // The charge is pending while the job is stored: a client that leaves meanwhile is recorded
  // with what stayed charged (its job stored and run: the whole charge; refused by the store: nothing).
  const storeOrRefund = async <T>(request: FastifyRequest, store: () => Promise<T>): Promise<T> => {
    const done = request.ledger.chargePending()
    try {
      return await store()
    } catch (error) {
      if (request.ledger.charge) meter.refund(request.ledger.charge)
      throw error
    } finally {
      done()
    }
  }

  app.post(
    '/v1/jobs',
    {
      bodyLimit: options.maxJobBodyBytes,
      config: { cost: jobCost },
      schema: {
        tags: ['jobs'],
        summary: 'Queue texts for classification in the background',
        body,
        response: {
          202: Type.Object({ id: Type.String(), status: Type.Literal('queued'), total: Type.Integer(), model: Type.String() }),
          ...protectedErrors,
          ...notFound,
          422: ErrorResponse,
          429: { ...ErrorResponse, description: 'Over the key limit, or too many unfinished jobs (`too_many_jobs`)' },
        },
      },
    },
    async (request, reply) => {
      const submission = request.body as unknown as JobSubmission
      if (!submission.claimForStore()) throw errors.clientClosed()
      const charge = request.ledger.charge
      const credits = charge && charge.taken.length > 0 ? { taken: [...charge.taken], unitsPerText: charge.units / submission.count } : null
      const job = await storeOrRefund(request, () => jobs.create(requirePrincipal(request), submission, submission.model, credits)).finally(
        () => submission.release(),
      )
      request.ledger.work = { model: job.model, texts: submission.count, chars: submission.chars }
      return reply
        .code(202)
        .header('location', `/v1/jobs/${job.id}`)
        .send({ id: job.id, status: 'queued' as const, total: job.total, model: job.model })
    },
  )
}

export default async function jobRoutes(fastify: FastifyInstance, options: JobRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { jobs, models, meter } = app.services
  const labelsOf = (model: string) => models.get(model)?.info.labels ?? []
  await app.register(submitRoute, options)
  app.get(
    '/v1/jobs/:id',
    {
      config: { cost: free, scope: READ_SCOPES },
      schema: {
        tags: ['jobs'],
        summary: 'Progress of a job and, once finished, a page of its results',
        params: IdParams,
        querystring: Type.Object(Paging),
        response: { 200: JobView, ...protectedErrors, ...notFound },
      },
    },
    async (request) => {
      const job = await jobs.get(requirePrincipal(request), request.params.id)
      if (!job) throw jobNotFound(request.params.id)
      if (!FINISHED.includes(job.status)) return view(job)
      const { offset, limit } = request.query
      const results = await jobs.results(job, offset, limit)
      const labels = labelsOf(job.model)
      // Results are written in order, so a cancelled or failed job's are the first `done`.
      const end = job.status === 'succeeded' ? job.total : job.done
      const next = offset + limit < end ? offset + limit : null
      return { ...view(job), results: results.map((r) => ({ ...r, ...sentimentField(labels, r.label) })), next_offset: next }
    },
  )

  app.get(
    '/v1/jobs',
    {
      config: { cost: free, scope: READ_SCOPES },
      schema: {
        tags: ['jobs'],
        summary: "This key's jobs, newest first (every key's for admin keys)",
        querystring: Type.Object({ status: Type.Optional(Status), ...Paging }),
        response: {
          200: Type.Object({ jobs: Type.Array(JobView), next_offset: Type.Union([Type.Integer(), Type.Null()]) }),
          ...protectedErrors,
        },
      },
    },
    async (request) => {
      const { status, offset, limit } = request.query
      const page = await jobs.list(requirePrincipal(request), status, offset, limit + 1)
      return { jobs: page.slice(0, limit).map(view), next_offset: page.length > limit ? offset + limit : null }
    },
  )

  app.delete(
    '/v1/jobs/:id',
    {
      config: { cost: free, scope: READ_SCOPES },
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job; texts not processed yet are dropped and their credits given back',
        params: IdParams,
        response: {
          200: JobView,
          ...protectedErrors,
          ...notFound,
          409: { ...ErrorResponse, description: 'The job has finished already (`conflict`)' },
        },
      },
    },
    async (request) => {
      const job = await jobs.cancel(requirePrincipal(request), request.params.id)
      // Its texts without a result never will have one: their credits go back (not their rate-limit units).
      const credits = await jobs.creditsOf(job)
      if (credits) await meter.refundCredits(credits.taken, (job.total - job.done) * credits.unitsPerText)
      return view(job)
    },
  )
}
