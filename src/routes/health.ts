/**
 * `/health`: the process is alive. `/ready`: the models are loaded and the store answers
 * (503 otherwise), for load balancers and orchestrators. Both need no key.
 *
 * `/ready` also tells each remote model's and LLM server's circuit-breaker state, without failing: every
 * instance shares the same remote servers, so taking this one out of a load balancer would not
 * bring a down server back, and would cut the local models and key management off too. The
 * same holds for Redis (`--redis-url`): while it does not answer, `/ready` says `degraded`
 * with the reason, still 200 (limits are kept in memory per instance with `--ratelimit-fail
 * open`; with `closed`, limited requests are answered 503 until it is back).
 */
import type { FastifyInstance } from 'fastify'
import { Type } from 'typebox'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { ErrorCode } from '../errors.js'
import type { UpstreamState } from '../models/types.js'

const HealthResponse = Type.Object({ status: Type.Literal('ok') })
const Check = Type.Union([Type.Literal('ok'), Type.Literal('failing')])
const Upstreams = Type.Record(Type.String(), Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open')]), {
  description:
    "Each remote model's and each LLM server's (`--llm`, by its name) circuit breaker: closed (answering), open (calls refused with 503 until a probe succeeds), half_open (probing)",
})
const RatelimitCheck = Type.Optional(
  Type.Union([Type.Literal('ok'), Type.Literal('degraded')], { description: 'Redis, when --redis-url is set' }),
)
const ReadyResponse = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('degraded')]),
  checks: Type.Object({ database: Check, models: Check, ratelimit: RatelimitCheck }),
  degraded: Type.Optional(Type.Array(Type.String(), { description: 'Why the status is degraded, one line each' })),
  upstreams: Upstreams,
})
const NotReadyResponse = Type.Object({
  detail: Type.String(),
  code: Type.String(),
  request_id: Type.String(),
  checks: Type.Object({ database: Check, models: Check }),
  upstreams: Upstreams,
})

export default async function healthRoutes(fastify: FastifyInstance): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>()
  const { db, models, config, limiterHealth, llms } = app.services

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
      const upstreams: Record<string, UpstreamState> = {}
      for (const info of models.list()) {
        const upstream = models.get(info.name)?.upstream
        if (upstream) upstreams[info.name] = upstream.state()
      }
      for (const name of llms.names()) upstreams[name] = llms.resolve(name).health.state()
      if (checks.database === 'ok' && checks.models === 'ok') {
        if (config.redisUrl === '') return { status: 'ready' as const, checks, upstreams }
        const redisDown = await limiterHealth()
        if (redisDown === null) return { status: 'ready' as const, checks: { ...checks, ratelimit: 'ok' as const }, upstreams }
        const degraded = [
          `${redisDown}; limits are ${config.ratelimitFail === 'open' ? 'kept in memory, per instance' : 'refused with 503 (--ratelimit-fail closed)'} until it answers`,
        ]
        return { status: 'degraded' as const, checks: { ...checks, ratelimit: 'degraded' as const }, degraded, upstreams }
      }
      request.ledger.errorCode = ErrorCode.NotReady
      return reply.code(503).send({ detail: 'Not ready', code: ErrorCode.NotReady, request_id: request.id, checks, upstreams })
    },
  )
}
