/**
 * One structured log line per answered request (Fastify's two default lines are off): request
 * id, key id, method, route, status, error code, model, number of texts and latency. Never
 * the key, never the text.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

declare module 'fastify' {
  interface FastifyRequest {
    /** What a prediction asked of which model, set by the route: counts only, never the texts. */
    usage: { model: string; texts: number; chars: number } | null
  }
}

async function requestLog(app: FastifyInstance): Promise<void> {
  app.decorateRequest('usage', null)
  app.addHook('onResponse', (request, reply, done) => {
    request.log.info(
      {
        keyId: request.principal?.keyId,
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        code: request.errorCode ?? undefined,
        model: request.usage?.model,
        texts: request.usage?.texts,
        ms: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request',
    )
    done()
  })
}

export default fp(requestLog, { name: 'request-log' })
