/**
 * One structured log line per answered request (Fastify's two default lines are off): request
 * id, key id, method, route, status, error code and latency. Never the key, never the text.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

async function requestLog(app: FastifyInstance): Promise<void> {
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        keyId: request.principal?.keyId,
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        code: request.errorCode ?? undefined,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    )
    done()
  })
}

export default fp(requestLog, { name: 'request-log' })
