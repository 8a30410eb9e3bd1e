/**
 * Request metrics: every answer is counted by method, route pattern, status and outcome, and
 * its latency observed; 429s are counted by reason. Unknown URLs share one route label so
 * that scanners cannot blow up the number of series.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ErrorCode } from '../errors.js'
import type { FinishedRequest } from '../http/ledger.js'
import type { AppMetrics } from '../metrics/registry.js'

interface MetricsPluginOptions {
  metrics: AppMetrics
}

const UNMATCHED = '(unmatched)'

function rateLimitReason({ outcome, ledger }: FinishedRequest): string | undefined {
  if (outcome === 'concurrency_limited') return 'concurrency'
  if (outcome !== 'rate_limited') return undefined
  return ledger.errorCode === ErrorCode.AuthRateLimited ? 'auth_failures' : 'key_limit'
}

async function metricsPlugin(app: FastifyInstance, options: MetricsPluginOptions): Promise<void> {
  const { metrics } = options
  app.onRequestFinished((finished) => {
    // Answered requests only: an abandoned one has no status or latency of its own.
    if (finished.latencyMs === null) return
    const { request, ledger, status, outcome } = finished
    metrics.request(request.method, ledger.route ?? UNMATCHED, status, outcome, finished.latencyMs / 1000, rateLimitReason(finished))
  })
}

export default fp(metricsPlugin, { name: 'metrics', dependencies: ['ledger'] })
