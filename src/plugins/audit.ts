/**
 * One audit record per request that needs a key (every route that is not public), allowed or
 * not, written off the request path by the audit writer — except requests refused before any
 * key was identified (no key, a malformed or unknown key, an address blocked for failing too
 * often), which are counted per address and minute instead (`audit/tally.ts`), so that traffic
 * without a key cannot grow the log by a row per request. While the writer's buffer is full,
 * such requests are refused with 503 before any work is done (see `src/audit/writer.ts` for the
 * overload policy).
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { AuditEntry } from '../audit/record.js'
import type { AuditWriter } from '../audit/writer.js'
import { AppError, ErrorCode } from '../errors.js'
import type { FinishedRequest, RequestLedger } from '../http/ledger.js'
import { redactKeys } from '../keys/format.js'
import type { Clock } from '../lib/clock.js'

interface AuditPluginOptions {
  writer: AuditWriter
  clock: Clock
}

/** The record of an answered (or abandoned) request: counts of texts, never the texts or the key. */
function requestEntry(finished: FinishedRequest, time: number): AuditEntry {
  const { request, ledger, status, latencyMs } = finished
  const { principal, refusedKey, work } = ledger
  return {
    time,
    kind: 'request',
    requestId: request.id,
    keyId: principal?.keyId ?? refusedKey?.id ?? null,
    keyPrefix: principal?.prefix ?? refusedKey?.prefix ?? null,
    // From X-Forwarded-For when a proxy is trusted, and proxy-addr does not insist on an address.
    ip: ledger.ip === null ? null : redactKeys(ledger.ip),
    method: request.method,
    route: ledger.route,
    model: work?.model ?? null,
    status,
    outcome: finished.outcome,
    cost: ledger.cost,
    latencyUs: latencyMs === null ? null : Math.round(latencyMs * 1000),
    texts: work?.texts ?? null,
    chars: work?.chars ?? null,
    action: null,
    actor: null,
    detail: null,
    tokensIn: ledger.tokens?.in ?? null,
    tokensOut: ledger.tokens?.out ?? null,
  }
}

/** Refused before any key was identified: no key, a malformed or unknown one, or a blocked address. */
function withoutKnownKey(ledger: RequestLedger): boolean {
  if (ledger.principal !== null || ledger.refusedKey?.id) return false
  return ledger.authFailure !== null || ledger.errorCode === ErrorCode.AuthRateLimited
}

function auditBehind(): AppError {
  return new AppError(ErrorCode.ServiceUnavailable, 'The audit log is behind; try again shortly.', { headers: { 'retry-after': '1' } })
}

async function audit(app: FastifyInstance, options: AuditPluginOptions): Promise<void> {
  const { writer, clock } = options

  app.addHook('onRequest', (request, _reply, done) => {
    const ledger = request.ledger
    if (!ledger.needsKey) return done()
    if (!writer.hasRoom()) {
      writer.refuse()
      return done(auditBehind())
    }
    ledger.auditOwed = true
    done()
  })

  // Answered or abandoned (the client went away first: recorded as aborted, since the request
  // did reach authentication and may have used the model).
  app.onRequestFinished((finished) => {
    const { ledger, outcome, status } = finished
    if (!ledger.auditOwed) return
    const time = clock.now()
    if (withoutKnownKey(ledger)) writer.tally({ time, ip: redactKeys(ledger.ip ?? 'unknown'), outcome, status, route: ledger.route })
    else writer.append(requestEntry(finished, time))
  })
}

export default fp(audit, { name: 'audit', dependencies: ['error-handler', 'request-id', 'ledger'] })
