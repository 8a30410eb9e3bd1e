/**
 * Request bodies: JSON only. Other media types get 415. Bodies must be valid UTF-8 (400
 * otherwise: silently replacing bytes would classify a text the client did not send), and
 * `__proto__`/`constructor.prototype` keys are refused by the secure parser.
 * An empty body counts as no body, whatever its content type, so `POST /predict?text=...`
 * sent with `curl -d ''` (an empty form body) works as the FastAPI reference service does,
 * which never reads a body there.
 */
import { isUtf8 } from 'node:buffer'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import sjson from 'secure-json-parse'
import { AppError, ErrorCode } from '../errors.js'

type Done = (error: Error | null, body?: unknown) => void

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined
  if (!isUtf8(body)) throw new AppError(ErrorCode.InvalidEncoding, 'Request body is not valid UTF-8')
  try {
    return sjson.parse(body.toString('utf8'), null, { protoAction: 'error', constructorAction: 'error' })
  } catch {
    throw new AppError(ErrorCode.InvalidJson, 'Invalid JSON body')
  }
}

const unsupported = () => new AppError(ErrorCode.UnsupportedMediaType, 'Unsupported Media Type: send application/json')

/**
 * The parser of every other media type (and of a body sent without one): an empty body is no
 * body; a non-empty one is a 415 as soon as it is known to be non-empty (from its
 * `Content-Length`, or the first byte of a chunked body), and is left unread for
 * `plugins/unread-body.ts` to drain.
 */
function emptyOnly(request: FastifyRequest, payload: IncomingMessage, done: Done): void {
  if (Number(request.headers['content-length']) > 0) return done(unsupported())
  if (payload.readableEnded) return done(null, undefined)
  const finish = (error: Error | null) => {
    payload.off('data', onData)
    payload.off('end', onEnd)
    payload.off('error', onError)
    done(error, undefined)
  }
  const onData = (chunk: Buffer) => {
    if (chunk.length > 0) finish(unsupported())
  }
  const onEnd = () => finish(null)
  const onError = () => finish(new AppError(ErrorCode.BadRequest, 'The request body could not be read'))
  payload.on('data', onData)
  payload.once('end', onEnd)
  payload.once('error', onError)
}

async function jsonBody(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers()
  const parser = (_request: unknown, body: string | Buffer, done: Done) => {
    try {
      done(null, parseJson(body as Buffer))
    } catch (error) {
      done(error as AppError, undefined)
    }
  }
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parser)
  app.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: 'buffer' }, parser)
  app.addContentTypeParser('*', emptyOnly)
}

export default fp(jsonBody, { name: 'json-body' })
