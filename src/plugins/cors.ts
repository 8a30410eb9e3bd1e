/**
 * Cross-origin calls from browsers, closed unless `--cors-origin` names the origins allowed
 * (exact matches, never a pattern): then @fastify/cors answers their preflights before any
 * key is asked for, and every answer to them — errors included, so a page can read
 * `{"detail", "code"}` — carries `Access-Control-Allow-Origin` and exposes the rate-limit and
 * request-id headers. No cookies are involved (keys travel in headers), so no credentials mode.
 */
import fastifyCors from '@fastify/cors'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

interface CorsOptions {
  origins: readonly string[]
  apiKeyHeader: string
}

const EXPOSED = ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-Request-Id', 'Location']

async function cors(app: FastifyInstance, options: CorsOptions): Promise<void> {
  if (options.origins.length === 0) return
  await app.register(fastifyCors, {
    origin: [...options.origins],
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: [...new Set(['Content-Type', 'Authorization', 'X-Request-Id', options.apiKeyHeader])],
    exposedHeaders: EXPOSED,
    maxAge: 600,
    strictPreflight: true,
  })
}

export default fp(cors, { name: 'cors' })
