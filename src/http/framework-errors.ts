/**
 * Fastify's `frameworkErrors`: the errors its router raises before any hook runs (a URL that
 * cannot be decoded, a path parameter over `maxParamLength`). Fastify's own answers have
 * another shape and echo the path, which may hold anything, a key included; these answers
 * keep the documented shape and echo nothing.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, ErrorCode } from '../errors.js'
import { sendError } from './error-answer.js'
import { SECURITY_HEADERS } from './security-headers.js'
import { discardUnreadBody } from './unread-body.js'

/** The AppError for one of Fastify's router errors. */
function frameworkErrorOf(error: FastifyError): AppError {
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return new AppError(ErrorCode.UriTooLong, 'A path parameter is too long')
  return new AppError(ErrorCode.BadRequest, 'Malformed URL')
}

/** The `frameworkErrors` handler; `maxBodyBytes` bounds the unread body it waits for. */
export function frameworkErrors(maxBodyBytes: number) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    const appError = frameworkErrorOf(error)
    // No hook runs for these requests: the headers the plugins would add are set here, and the
    // unread body is waited for here (plugins/unread-body.ts).
    reply.headers(SECURITY_HEADERS).header('cache-control', 'no-store').header('x-request-id', request.id)
    void discardUnreadBody(request.raw, maxBodyBytes).then(() => sendError(request, reply, appError))
  }
}
