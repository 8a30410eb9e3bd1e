/**
 * How failures become answers: anything thrown while serving a request — an `AppError`, a
 * Fastify error (bad JSON, body too large, wrong content type), a validation failure, an
 * unexpected exception — becomes an `AppError`, sent as `{detail, code, request_id}` with the
 * right status. 5xx bodies never carry internal messages.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isStoreUnavailable } from '../db/unavailable.js'
import type { ErrorBody } from '../errors.js'
import { AppError, ErrorCode, errors } from '../errors.js'
import { openAiErrorBody } from '../llm/error-shape.js'
import { NOT_BLANK } from './texts.js'
import { validationIssues } from './validation-errors.js'

/** Fastify's own error codes mapped to ours. */
const FASTIFY_CODES: Record<string, () => AppError> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => new AppError(ErrorCode.UnsupportedMediaType, 'Unsupported Media Type: send application/json'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => new AppError(ErrorCode.InvalidJson, 'Content-Length does not match the body'),
  FST_ERR_CTP_BODY_TOO_LARGE: () => new AppError(ErrorCode.PayloadTooLarge, 'Request body is too large'),
  FST_ERR_CTP_INVALID_JSON_BODY: () => new AppError(ErrorCode.InvalidJson, 'Invalid JSON body'),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new AppError(ErrorCode.InvalidJson, 'Invalid JSON body: the body is empty'),
  FST_ERR_CTP_INVALID_TYPE: () => new AppError(ErrorCode.UnsupportedMediaType, 'Unsupported Media Type'),
}

/** Turns anything thrown during a request into an AppError (unknown errors become 500). */
export function toAppError(error: FastifyError | AppError | Error): AppError {
  if (error instanceof AppError) return error
  const fastifyError = error as FastifyError
  if (fastifyError.validation) {
    const issues = validationIssues(fastifyError.validation, fastifyError.validationContext)
    // A blank single text answers as the reference service does; a blank batch item is a 422.
    if (fastifyError.validation[0]?.keyword === NOT_BLANK && issues[0]?.loc.at(-1) === 'text') {
      return new AppError(ErrorCode.EmptyText, 'Empty text provided')
    }
    return errors.validation(issues)
  }
  const known = fastifyError.code ? FASTIFY_CODES[fastifyError.code] : undefined
  if (known) return known()
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return new AppError(ErrorCode.InvalidJson, 'Invalid JSON body')
  }
  if (fastifyError.statusCode === 413) return FASTIFY_CODES.FST_ERR_CTP_BODY_TOO_LARGE!()
  if (fastifyError.statusCode === 415) return FASTIFY_CODES.FST_ERR_CTP_INVALID_MEDIA_TYPE!()
  if (isStoreUnavailable(error)) return errors.storeUnavailable()
  return errors.internal()
}

/** Sends an error answer in the common shape. */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: AppError): FastifyReply {
  // The OpenAI-compatible routes answer in OpenAI's error shape, which its SDKs understand.
  // (Requests Fastify refuses before routing have no ledger: `http/framework-errors.ts`.)
  const ledger = request.ledger as FastifyRequest['ledger'] | undefined
  if (ledger?.config.openai === true) return reply.code(error.statusCode).headers(error.headers).send(openAiErrorBody(error, request.id))
  const body: ErrorBody = { detail: error.detail, code: error.code, request_id: request.id }
  return reply.code(error.statusCode).headers(error.headers).send(body)
}
