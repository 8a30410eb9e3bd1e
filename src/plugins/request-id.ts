/**
 * Every request gets an id: the caller's `X-Request-Id` when it is a safe token, a new UUID
 * otherwise. It is echoed in the `X-Request-Id` header, in error bodies and in logs.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { containsKey } from '../keys/format.js'

const SAFE_ID = /^[\w.:+/=@-]{1,128}$/

/**
 * Fastify's `genReqId`: reuses a well-formed incoming id, else makes one. An id that contains
 * something shaped like an API key is replaced: it would be echoed, logged and audited.
 */
export function requestIdOf(request: IncomingMessage): string {
  const incoming = request.headers['x-request-id']
  return typeof incoming === 'string' && SAFE_ID.test(incoming) && !containsKey(incoming) ? incoming : randomUUID()
}

async function requestId(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    done()
  })
}

export default fp(requestId, { name: 'request-id' })
