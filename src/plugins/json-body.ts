/**
 * Request bodies: JSON only (`http/json.ts`). Other media types get 415. An empty JSON body
 * counts as no body, so `POST /predict?text=...` with a JSON content type works as the FastAPI
 * reference service does. A route context may put its own parser in place with
 * {@link useJsonParser} (the job route parses on a worker thread).
 */
import type { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { parseJson } from '../http/json.js'

const JSON_TYPES = ['application/json', /^application\/[\w.+-]+\+json$/]

/**
 * Makes `parse` the JSON body parser of `app`'s context (and of the contexts it registers). It
 * reads the body stream itself, and must enforce the route's body limit.
 */
export function useJsonParser(app: FastifyInstance, parse: (request: FastifyRequest, payload: Readable) => Promise<unknown>): void {
  app.removeAllContentTypeParsers()
  const parser = (request: FastifyRequest, payload: Readable) => parse(request, payload)
  for (const type of JSON_TYPES) app.addContentTypeParser(type, parser)
}

async function jsonBody(app: FastifyInstance): Promise<void> {
  // Synchronous on purpose: most bodies are small, and a promise per request costs.
  app.removeAllContentTypeParsers()
  const parser = (_request: unknown, body: string | Buffer, done: (error: Error | null, body?: unknown) => void) => {
    try {
      done(null, parseJson(body as Buffer))
    } catch (error) {
      done(error as Error, undefined)
    }
  }
  for (const type of JSON_TYPES) app.addContentTypeParser(type, { parseAs: 'buffer' }, parser)
}

export default fp(jsonBody, { name: 'json-body' })
