/**
 * The app's error and not-found handlers: every failure is answered as `{detail, code,
 * request_id}` with the right status (`http/error-answer.ts`), and unexpected ones are logged.
 */
import type { FastifyError, FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode, errors } from '../errors.js'
import { sendError, toAppError } from '../http/error-answer.js'

async function errorHandler(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const appError = toAppError(error)
    if (appError.code === ErrorCode.ServiceUnavailable && !(error instanceof AppError)) {
      request.log.warn({ err: error }, 'store unavailable: answered 503')
    } else if (appError.statusCode >= 500) {
      request.log.error({ err: error }, 'request failed')
    }
    request.ledger.errorCode = appError.code
    return sendError(request, reply, appError)
  })

  app.setNotFoundHandler((request, reply) => {
    const error = errors.notFound(`Not Found: ${request.method} ${request.url.split('?')[0]}`)
    request.ledger.errorCode = error.code
    return sendError(request, reply, error)
  })
}

export default fp(errorHandler, { name: 'error-handler', dependencies: ['ledger'] })
