/**
 * Headers on every answer that stop browsers from misusing it: no MIME sniffing, no
 * referrer, no framing (clickjacking), and no caching of API answers, which may carry a
 * caller's data. An answer that chose its own caching (the docs page's assets) keeps it.
 * CORS is closed unless `--cors-origin` opens it to named origins (plugins/cors.ts).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { SECURITY_HEADERS } from '../http/security-headers.js'

async function securityHeaders(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(SECURITY_HEADERS)
    done()
  })
  app.addHook('onSend', (_request, reply, _payload, done) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    done()
  })
}

export default fp(securityHeaders, { name: 'security-headers' })
