/**
 * Request bodies: JSON only. Other media types get 415. Bodies must be valid UTF-8 (400
 * otherwise: silently replacing bytes would classify a text the client did not send), and
 * `__proto__`/`constructor.prototype` keys are refused by the secure parser.
 * An empty JSON body counts as no body, so `POST /predict?text=...` with a JSON content type
 * works as the FastAPI reference service does.
 */
import { isUtf8 } from 'node:buffer'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import sjson from 'secure-json-parse'
import { AppError, ErrorCode } from '../errors.js'

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined
  if (!isUtf8(body)) throw new AppError(ErrorCode.InvalidEncoding, 'Request body is not valid UTF-8')
  try {
    return sjson.parse(body.toString('utf8'), null, { protoAction: 'error', constructorAction: 'error' })
  } catch {
    throw new AppError(ErrorCode.InvalidJson, 'Invalid JSON body')
  }
}

async function jsonBody(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers()
  const parser = (_request: unknown, body: string | Buffer, done: (error: Error | null, body?: unknown) => void) => {
    try {
      done(null, parseJson(body as Buffer))
    } catch (error) {
      done(error as AppError, undefined)
    }
  }
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parser)
  app.addContentTypeParser(/^application\/[\w.+-]+\+json$/, { parseAs: 'buffer' }, parser)
}

export default fp(jsonBody, { name: 'json-body' })
