/**
 * `/health`: the process is alive. `/ready`: the models are loaded and the store answers
 * (503 otherwise), for load balancers and orchestrators. Both need no key.
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ErrorCode } from '../errors.js'

const HealthResponse = Type.Object({ status: Type.Literal('ok') })
const Check = Type.Union([Type.Literal('ok'), Type.Literal('failing')])
const ReadyResponse = Type.Object({
  status: Type.Literal('ready'),
  checks: Type.Object({ database: Check, models: Check }),
})
const NotReadyResponse = Type.Object({
  detail: Type.String(),
  code: Type.String(),
  request_id: Type.String(),
  checks: Type.Object({ database: Check, models: Check }),
})

export default async function healthRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, models } = app.services

  app.get(
    '/health',
    { config: { public: true }, schema: { tags: ['health'], summary: 'The process is alive', response: { 200: HealthResponse } } },
    () => ({ status: 'ok' as const }),
  )

  app.get(
    '/ready',
    {
      config: { public: true },
      schema: {
        tags: ['health'],
        summary: 'Ready to serve: models loaded and store reachable',
        response: { 200: ReadyResponse, 503: NotReadyResponse },
      },
    },
    async (request, reply) => {
      const database = await db.ping().then(
        () => 'ok' as const,
        () => 'failing' as const,
      )
      const checks = { database, models: models.size > 0 ? ('ok' as const) : ('failing' as const) }
      if (checks.database === 'ok' && checks.models === 'ok') return { status: 'ready' as const, checks }
      request.ledger.errorCode = ErrorCode.NotReady
      return reply.code(503).send({ detail: 'Not ready', code: ErrorCode.NotReady, request_id: request.id, checks })
    },
  )
}
