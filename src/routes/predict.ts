/**
 * Prediction endpoints. `POST /predict` is the reference FastAPI service's endpoint, compatible
 * with its clients: the text comes as `?text=` or in a JSON body `{"text": ...}`. Both it and
 * `POST /v1/models/{name}/predict` also take a batch `{"texts": [...]}`, answered in order.
 *
 * Every prediction has a deadline (504 past it) and is dropped from the model's queue when the
 * client disconnects; a full queue answers 503 at once. A prediction costs one unit per text,
 * charged after the model check (`accounting/costs.ts`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import type { Static } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { AppError, ErrorCode, errors } from '../errors.js'
import { NOT_BLANK, requireOneText } from '../http/texts.js'
import { resolveModel } from '../models/access.js'
import { sentimentField } from '../models/sentiment.js'
import type { ServedModel } from '../models/registry.js'
import type { Classification, ModelInfo } from '../models/types.js'
import { textUnits } from '../accounting/costs.js'
import type { Meter } from '../accounting/meter.js'
import { ErrorResponse, protectedErrors } from './common.js'
import { requirePrincipal } from '../http/ledger.js'
import type { RequestLedger } from '../http/ledger.js'

export interface PredictRoutesOptions {
  maxTextLength: number
  /** Most texts in one batch request. */
  maxTexts: number
  timeoutMs: number
}

function predictSchemas(options: Pick<PredictRoutesOptions, 'maxTextLength' | 'maxTexts'>) {
  const text = Type.String({
    maxLength: options.maxTextLength,
    [NOT_BLANK]: true,
    description: `The text to classify (at most ${options.maxTextLength} characters, not blank)`,
  })
  const answer = Type.Object({
    text: Type.String(),
    sentiment: Type.Optional(Type.String({ description: 'For sentiment models: positive or negative' })),
    confidence: Type.Number({ minimum: 0, maximum: 1, description: 'Probability of the predicted label' }),
    label: Type.String(),
    scores: Type.Record(Type.String(), Type.Number(), { description: 'Probability of every label' }),
  })
  return {
    querystring: Type.Object({ text: Type.Optional(text) }),
    body: Type.Object({
      text: Type.Optional(text),
      texts: Type.Optional(
        Type.Array(text, { minItems: 1, maxItems: options.maxTexts, description: `Up to ${options.maxTexts} texts, answered in order` }),
      ),
    }),
    single: Type.Intersect([answer, Type.Object({ status: Type.Literal('success'), model: Type.String() })]),
    batch: Type.Object({ results: Type.Array(answer), status: Type.Literal('success'), model: Type.String() }),
  }
}

type Body = Static<ReturnType<typeof predictSchemas>['body']>

/** One text's answer; `sentiment` only for models whose labels are positive/negative. */
function toAnswer(text: string, info: ModelInfo, result: Classification) {
  return {
    text,
    ...sentimentField(info.labels, result.label),
    confidence: result.confidence,
    label: result.label,
    scores: result.scores,
  }
}

/** Runs texts through the model, dropping them if the client leaves before its answer. */
async function classify(model: ServedModel, texts: string[], ledger: RequestLedger, timeoutMs: number): Promise<Classification[]> {
  const submission = model.submit(texts, { deadline: Date.now() + timeoutMs })
  const stopListening = ledger.onClientGone(() => submission.cancel(errors.clientClosed()))
  try {
    return await submission.results
  } finally {
    stopListening()
  }
}

interface Input {
  body: Body
  query: { text?: string }
  params?: { name?: string }
}

/** The texts of a validated request: its batch, or its one text (requireOneText made sure there is exactly one). */
function textsOf({ body, query }: Input): string[] {
  return body.texts ?? [(query.text ?? body.text)!]
}

/**
 * Classifies the request's texts. Its charge bought a place in the model's queue: when the
 * queue is full (503) the model does no work, and the charge is given back.
 */
async function answer(request: FastifyRequest & Input, model: ServedModel, meter: Meter, timeoutMs: number) {
  const texts = textsOf(request)
  request.ledger.work = { model: model.info.name, texts: texts.length, chars: texts.reduce((sum, t) => sum + t.length, 0) }
  let results: Classification[]
  try {
    results = await classify(model, texts, request.ledger, timeoutMs)
  } catch (error) {
    if (error instanceof AppError && error.code === ErrorCode.ServerBusy && request.ledger.charge) meter.refund(request.ledger.charge)
    throw error
  }
  const answers = results.map((result, i) => toAnswer(texts[i]!, model.info, result))
  if (request.body.texts !== undefined) return { results: answers, status: 'success' as const, model: model.info.name }
  return { ...answers[0]!, status: 'success' as const, model: model.info.name }
}

export default async function predictRoutes(fastify: FastifyInstance, options: PredictRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const schemas = predictSchemas(options)
  const { models, meter } = app.services
  // The model is resolved (404 unknown, 403 not allowed for this key) before the charge, so
  // that a refused request costs nothing; resolving again in the handler is a map lookup.
  const modelOf = (request: FastifyRequest & Input) => resolveModel(models, requirePrincipal(request), request.params?.name)
  const cost = (request: FastifyRequest) => {
    const input = request as FastifyRequest & Input
    return textUnits(textsOf(input).length, modelOf(input))
  }
  const serve = (request: FastifyRequest) => {
    const input = request as FastifyRequest & Input
    return answer(input, modelOf(input), meter, options.timeoutMs)
  }
  const responses = {
    200: Type.Union([schemas.single, schemas.batch]),
    ...protectedErrors,
    400: { ...ErrorResponse, description: 'Empty text (`empty_text`), invalid JSON or encoding' },
    413: ErrorResponse,
    415: ErrorResponse,
    422: { ...ErrorResponse, description: 'Missing or invalid field (FastAPI-style detail list)' },
    429: { ...ErrorResponse, description: 'Over the key limit (`rate_limited`), with Retry-After' },
    503: { ...ErrorResponse, description: 'The model queue is full (`server_busy`), with Retry-After' },
    504: { ...ErrorResponse, description: 'The prediction did not finish in time (`prediction_timeout`)' },
  }
  const common = {
    config: { scope: 'predict' as const, cost },
    preValidation: requireOneText,
    // Answers are plain objects; JSON.stringify is as fast as a compiled serializer for them
    // and spares fast-json-stringify from trying each branch of the single/batch union.
    serializerCompiler: () => (data: unknown) => JSON.stringify(data),
  }

  app.post(
    '/predict',
    {
      ...common,
      schema: {
        tags: ['predict'],
        summary: 'Classify one text (or a batch) with the default model',
        description:
          'Send the text as `?text=`, as a JSON body `{"text": "..."}`, or a batch `{"texts": ["...", ...]}` (costs one unit per text).',
        querystring: schemas.querystring,
        body: schemas.body,
        response: responses,
      },
    },
    serve,
  )

  app.post(
    '/v1/models/:name/predict',
    {
      ...common,
      schema: {
        tags: ['predict'],
        summary: 'Classify one text (or a batch) with the named model',
        params: Type.Object({ name: Type.String({ maxLength: 128 }) }),
        querystring: schemas.querystring,
        body: schemas.body,
        response: {
          ...responses,
          403: { ...ErrorResponse, description: 'Invalid key, missing scope, or a key not allowed this model (`model_forbidden`)' },
          404: { ...ErrorResponse, description: 'No such model (`model_not_found`)' },
        },
      },
    },
    serve,
  )
}
