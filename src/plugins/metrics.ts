/**
 * Request metrics: every answer is counted by method, route pattern, status and outcome, and
 * its latency observed; 429s are counted by reason. Unknown URLs share one route label so
 * that scanners cannot blow up the number of series.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { outcomeOf } from '../audit/record.js'
import { ErrorCode } from '../errors.js'
import type { AppMetrics } from '../metrics/registry.js'

export interface MetricsPluginOptions {
  metrics: AppMetrics
}

const UNMATCHED = '(unmatched)'

async function metricsPlugin(app: FastifyInstance, options: MetricsPluginOptions): Promise<void> {
  const { metrics } = options
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode
    const outcome = outcomeOf(status, request.authFailure, request.errorCode)
    const reason = outcome !== 'rate_limited' ? undefined : request.errorCode === ErrorCode.AuthRateLimited ? 'auth_failures' : 'key_limit'
    metrics.request(request.method, request.routeOptions.url ?? UNMATCHED, status, outcome, reply.elapsedTime / 1000, reason)
    done()
  })
}

export default fp(metricsPlugin, { name: 'metrics', dependencies: ['auth', 'error-handler'] })
