/**
 * One audit record per request that reaches authentication (every route that is not public),
 * allowed or not, written off the request path by the audit writer. While the writer's
 * buffer is full, such requests are refused with 503 before any work is done (see
 * `src/audit/writer.ts` for the overload policy).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { AuditEntry } from '../audit/record.js'
import { CLIENT_CLOSED_STATUS, outcomeOf } from '../audit/record.js'
import type { AuditWriter } from '../audit/writer.js'
import { AppError, ErrorCode } from '../errors.js'
import { redactKeys } from '../keys/format.js'
import type { Clock } from '../lib/clock.js'

export interface AuditPluginOptions {
  writer: AuditWriter
  clock: Clock
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request needs an audit record that is not written yet. */
    auditPending: boolean
  }
}

/** The record of an answered (or abandoned) request: counts of texts, never the texts or the key. */
export function requestEntry(request: FastifyRequest, time: number, status: number, latencyMs: number | null): AuditEntry {
  const principal = request.principal
  const refused = request.refusedKey
  const usage = request.usage
  return {
    time,
    kind: 'request',
    requestId: request.id,
    keyId: principal?.keyId ?? refused?.id ?? null,
    keyPrefix: principal?.prefix ?? refused?.prefix ?? null,
    // From X-Forwarded-For when a proxy is trusted, and proxy-addr does not insist on an address.
    ip: redactKeys(request.ip),
    method: request.method,
    route: request.routeOptions.url ?? null,
    model: usage?.model ?? null,
    status,
    outcome: status === CLIENT_CLOSED_STATUS ? 'aborted' : outcomeOf(status, request.authFailure, request.errorCode),
    cost: request.cost,
    latencyUs: latencyMs === null ? null : Math.round(latencyMs * 1000),
    texts: usage?.texts ?? null,
    chars: usage?.chars ?? null,
    action: null,
    actor: null,
    detail: null,
  }
}

function auditBehind(): AppError {
  return new AppError(ErrorCode.ServiceUnavailable, 'The audit log is behind; try again shortly.', { headers: { 'retry-after': '1' } })
}

async function audit(app: FastifyInstance, options: AuditPluginOptions): Promise<void> {
  const { writer, clock } = options
  app.decorateRequest('auditPending', false)

  app.addHook('onRequest', (request, _reply, done) => {
    // Same test as the auth plugin: public routes and unknown URLs never reach authentication.
    // (routeOptions builds a new object on every read.)
    const route = request.routeOptions
    if (route.config.public === true || route.url === undefined) return done()
    if (!writer.hasRoom()) {
      writer.refuse()
      return done(auditBehind())
    }
    request.auditPending = true
    done()
  })

  app.addHook('onResponse', (request, reply, done) => {
    if (request.auditPending) {
      request.auditPending = false
      writer.append(requestEntry(request, clock.now(), reply.statusCode, reply.elapsedTime))
    }
    done()
  })

  // The client went away before the answer: onResponse will not run, but the request did
  // reach authentication (and may have used the model), so it is recorded as aborted.
  app.addHook('onRequestAbort', (request, done) => {
    if (request.auditPending) {
      request.auditPending = false
      writer.append(requestEntry(request, clock.now(), CLIENT_CLOSED_STATUS, null))
    }
    done()
  })
}

export default fp(audit, { name: 'audit', dependencies: ['error-handler', 'request-id'] })
