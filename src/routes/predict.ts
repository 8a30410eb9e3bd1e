/**
 * `POST /predict`: the reference FastAPI service's endpoint, compatible with its clients.
 * The text comes as `?text=` or in a JSON body `{"text": ...}`; the answer is
 * `{text, sentiment, confidence, status, model, label, scores}`.
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { AppError, ErrorCode, errors } from '../errors.js'
import type { Classification, ModelInfo } from '../models/types.js'
import { ErrorResponse, protectedErrors } from './common.js'

export interface PredictRoutesOptions {
  maxTextLength: number
}

function textSchema(maxLength: number) {
  return Type.String({ maxLength, description: `The text to classify (at most ${maxLength} characters)` })
}

export function predictSchemas(maxTextLength: number) {
  return {
    querystring: Type.Object({ text: Type.Optional(textSchema(maxTextLength)) }),
    body: Type.Object({ text: Type.Optional(textSchema(maxTextLength)) }),
    response: Type.Object({
      text: Type.String(),
      sentiment: Type.Optional(Type.String({ description: 'For sentiment models: positive or negative' })),
      confidence: Type.Number({ minimum: 0, maximum: 1, description: 'Probability of the predicted label' }),
      status: Type.Literal('success'),
      model: Type.String(),
      label: Type.String(),
      scores: Type.Record(Type.String(), Type.Number(), { description: 'Probability of every label' }),
    }),
  }
}

// Whitespace, control and format characters (zero-width space, BOM, ...) carry no content.
const BLANK = /^[\s\p{Cc}\p{Cf}\p{Cs}]*$/u

/** The one text of the request, from the query or the body; 422 / 400 when absent or blank. */
export function pickText(fromQuery: string | undefined, fromBody: string | undefined): string {
  if (fromQuery !== undefined && fromBody !== undefined) {
    throw errors.validation([
      { loc: ['body', 'text'], msg: 'Give text in the query string or in the body, not both', type: 'value_error' },
    ])
  }
  const text = fromQuery ?? fromBody
  if (text === undefined) throw errors.validation([{ loc: ['query', 'text'], msg: 'Field required', type: 'missing' }])
  if (BLANK.test(text)) throw new AppError(ErrorCode.EmptyText, 'Empty text provided')
  return text
}

/** The answer for one text; `sentiment` only for models whose labels are positive/negative. */
export function toAnswer(text: string, info: ModelInfo, result: Classification) {
  const isSentiment = info.labels.includes('positive') && info.labels.includes('negative')
  return {
    text,
    ...(isSentiment ? { sentiment: result.label } : {}),
    confidence: result.confidence,
    status: 'success' as const,
    model: info.name,
    label: result.label,
    scores: result.scores,
  }
}

export default async function predictRoutes(fastify: FastifyInstance, options: PredictRoutesOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const schemas = predictSchemas(options.maxTextLength)
  const { models } = app.services

  app.post(
    '/predict',
    {
      config: { scope: 'predict' },
      // No body at all (the reference service's `?text=` form) validates as an empty one.
      preValidation: (request, _reply, done) => {
        request.body ??= {}
        done()
      },
      schema: {
        tags: ['predict'],
        summary: 'Classify one text with the default model',
        description: 'Send the text as `?text=` or as a JSON body `{"text": "..."}`.',
        querystring: schemas.querystring,
        body: schemas.body,
        response: {
          200: schemas.response,
          ...protectedErrors,
          400: { ...ErrorResponse, description: 'Empty text (`empty_text`), invalid JSON or encoding' },
          413: ErrorResponse,
          415: ErrorResponse,
          422: { ...ErrorResponse, description: 'Missing or invalid field (FastAPI-style detail list)' },
        },
      },
    },
    async (request) => {
      const text = pickText(request.query.text, request.body.text)
      const model = models.default
      request.usage = { model: model.info.name, texts: 1, chars: text.length }
      const [result] = await model.classify([text])
      return toAnswer(text, model.info, result!)
    },
  )
}
