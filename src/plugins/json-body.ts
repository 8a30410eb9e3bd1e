/**
 * Request bodies: JSON only (`http/json.ts`: valid UTF-8, no `__proto__`). Other media types get
 * 415. An empty body counts as no body, whatever its content type, so `POST /predict?text=...`
 * sent with `curl -d ''` (an empty form body) works as the FastAPI reference service does,
 * which never reads a body there. A route context may put its own JSON parser in place with
 * {@link useJsonParser} (the job route parses on a worker thread).
 */
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode } from '../errors.js'
import { parseJson } from '../http/json.js'

type Done = (error: Error | null, body?: unknown) => void

const JSON_TYPES = ['application/json', /^application\/[\w.+-]+\+json$/]

/**
 * Makes `parse` the JSON body parser of `app`'s context (and of the contexts it registers). It
 * reads the body stream itself, and must enforce the route's body limit.
 */
export function useJsonParser(app: FastifyInstance, parse: (request: FastifyRequest, payload: Readable) => Promise<unknown>): void {
  app.removeAllContentTypeParsers()
  const parser = (request: FastifyRequest, payload: Readable) => parse(request, payload)
  for (const type of JSON_TYPES) app.addContentTypeParser(type, parser)
  app.addContentTypeParser('*', emptyOnly)
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
  // Synchronous on purpose: most bodies are small, and a promise per request costs.
  app.removeAllContentTypeParsers()
  const parser = (_request: unknown, body: string | Buffer, done: Done) => {
    try {
      done(null, parseJson(body as Buffer))
    } catch (error) {
      done(error as Error, undefined)
    }
  }
  for (const type of JSON_TYPES) app.addContentTypeParser(type, { parseAs: 'buffer' }, parser)
  app.addContentTypeParser('*', emptyOnly)
}

export default fp(jsonBody, { name: 'json-body' })
