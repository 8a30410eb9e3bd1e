/**
 * `GET /metrics`: the Prometheus text exposition of this instance. Needs a key with the
 * `admin` scope unless the server runs with `--metrics-public` (for a scraper on a private
 * network that cannot send headers).
 */
import type { FastifyInstance } from 'fastify'
import { protectedErrors } from './common.js'

export interface MetricsRoutesOptions {
  public: boolean
}

export default async function metricsRoutes(app: FastifyInstance, options: MetricsRoutesOptions): Promise<void> {
  const { metrics } = app.services
  app.get(
    '/metrics',
    {
      config: options.public ? { public: true } : { scope: 'admin' },
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics',
        description: 'Text exposition format 0.0.4. Admin scope unless the server runs with --metrics-public.',
        response: {
          200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...(options.public ? {} : protectedErrors),
        },
      },
    },
    async (_request, reply) => {
      const { contentType, body } = await metrics.scrape()
      return reply.type(contentType).send(body)
    },
  )
}
