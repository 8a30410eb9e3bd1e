/**
 * Answers for requests that never become requests: bytes Node's HTTP parser refuses (broken
 * chunking, conflicting `Content-Length` / `Transfer-Encoding`, bad header syntax), headers
 * over the size limit, and clients too slow to send their headers or body in time. Fastify's
 * default answer has a body of its own shape; this one keeps the documented error shape
 * `{detail, code, request_id}`, then closes the connection, as Node does.
 */
import { randomUUID } from 'node:crypto'
import { STATUS_CODES, maxHeaderSize } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import type { ErrorBody } from '../errors.js'
import { AppError, ErrorCode } from '../errors.js'
import { SECURITY_HEADERS } from './security-headers.js'
import { isLingering, lingerThenDestroy } from './unread-body.js'

// The URL counts toward Node's header limit, and a long text sent as `?text=` (as the FastAPI
// reference service's clients do, which has no limit) is by far the usual cause: say what to do.
const HEADERS_TOO_LARGE =
  `Request headers are too large: the URL and headers must fit in ${maxHeaderSize / 1024} KiB. ` +
  'Send a long text in a JSON body, not in the URL: POST /predict with Content-Type: application/json and {"text": "..."}'

/** The AppError for a `clientError` event's error code. */
export function clientErrorOf(code: string | undefined): AppError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return new AppError(ErrorCode.RequestTimeout, 'The request was not received in time')
  if (code === 'HPE_HEADER_OVERFLOW') return new AppError(ErrorCode.HeadersTooLarge, HEADERS_TOO_LARGE)
  return new AppError(ErrorCode.BadRequest, 'Malformed HTTP request')
}

/** The raw HTTP/1.1 answer written on the socket. */
export function clientErrorResponse(error: AppError, requestId: string): string {
  const body: ErrorBody = { detail: error.detail, code: error.code, request_id: requestId }
  const json = JSON.stringify(body)
  return [
    `HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    `X-Request-Id: ${requestId}`,
    ...Object.entries(SECURITY_HEADERS).map(([name, value]) => `${name}: ${value}`),
    'Cache-Control: no-store',
    'Connection: close',
    '',
    json,
  ].join('\r\n')
}

interface SocketWithMessage extends Socket {
  // Node's own field: the response in progress on this connection, if any.
  _httpMessage?: { headersSent?: boolean } | null
}

/**
 * Fastify's `clientErrorHandler` (called with the instance as `this`, so `this.log` is the app's
 * logger). After a malformed request the connection reads and drops what the client still
 * sends (up to `maxBodyBytes`) before closing, so the answer is not lost to a reset
 * (`http/unread-body.ts`); a client too slow to send its request is cut off at once.
 */
export function clientErrorHandler(maxBodyBytes: number) {
  return function handleClientError(this: { log: FastifyBaseLogger }, error: NodeJS.ErrnoException, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed || isLingering(socket)) return
    const appError = clientErrorOf(error.code)
    // Only the code: the error also carries the raw bytes received, which may include a key.
    this.log.debug({ clientError: error.code ?? 'unknown', status: appError.statusCode }, 'malformed or slow request refused')
    const inProgress = (socket as SocketWithMessage)._httpMessage
    if (!socket.writable || inProgress?.headersSent) {
      socket.destroy()
      return
    }
    const answer = clientErrorResponse(appError, randomUUID())
    if (appError.code === ErrorCode.RequestTimeout) socket.end(answer, () => socket.destroy())
    else {
      socket.end(answer)
      lingerThenDestroy(socket, maxBodyBytes)
    }
  }
}
