/**
 * One structured log line per answered request (Fastify's two default lines are off): request
 * id, key id, method, route, status, error code, model, number of texts and latency. Never
 * the key, never the text.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

async function requestLog(app: FastifyInstance): Promise<void> {
  // The app's logger with the request id as a field, rather than the request's own child logger,
  // which is then never built for a request that logs nothing else (http/request-logger.ts).
  const log = app.log
  app.onRequestFinished(({ request, ledger, status, latencyMs }) => {
    if (latencyMs === null) return
    log.info(
      {
        reqId: request.id,
        keyId: ledger.principal?.keyId,
        method: request.method,
        route: ledger.route,
        status,
        code: ledger.errorCode ?? undefined,
        model: ledger.work?.model,
        texts: ledger.work?.texts,
        ms: Math.round(latencyMs * 100) / 100,
      },
      'request',
    )
  })
}

export default fp(requestLog, { name: 'request-log', dependencies: ['ledger'] })
