/**
 * Gives every request its ledger (`http/ledger.ts`), and runs the one "finished" step: when the
 * answer has been sent, or the client went away before it (while sending the body, or after), the request's outcome is worked out
 * once and the same `FinishedRequest` goes to every listener — the audit log, the metrics and
 * the log line register with `app.onRequestFinished(listener)`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { FinishedRequest } from '../http/ledger.js'
import { RequestLedger } from '../http/ledger.js'
import { CLIENT_CLOSED_STATUS, outcomeOf } from '../http/outcome.js'

/** Told about every finished request; must not throw. */
type FinishedListener = (finished: FinishedRequest) => void

declare module 'fastify' {
  interface FastifyInstance {
    /** Adds a listener told about every request once it is answered or abandoned. */
    onRequestFinished(listener: FinishedListener): void
  }
}

// The ledger is made on first use: no hook per request to make it, and it exists wherever a
// handler or hook looks. (Requests Fastify answers before routing — URLs it cannot decode —
// are built without the app's decorations; `http/framework-errors.ts` answers them alone.)
const SLOT = Symbol('ledger')
type WithSlot = FastifyRequest & { [SLOT]: RequestLedger | null }

function finish(request: FastifyRequest, status: number, latencyMs: number | null, listeners: readonly FinishedListener[]): void {
  const ledger = request.ledger
  if (ledger.finished) return
  ledger.finished = true
  const finished: FinishedRequest = { request, ledger, status, latencyMs, outcome: outcomeOf(status, ledger.authFailure, ledger.errorCode) }
  for (const listener of listeners) listener(finished)
}

async function ledgerPlugin(app: FastifyInstance): Promise<void> {
  const listeners: FinishedListener[] = []
  app.decorate('onRequestFinished', (listener: FinishedListener) => {
    listeners.push(listener)
  })
  app.decorateRequest(SLOT, null)
  app.decorateRequest('ledger', {
    getter(this: FastifyRequest) {
      const request = this as WithSlot
      return (request[SLOT] ??= new RequestLedger(this))
    },
  })

  app.addHook('onResponse', (request, reply, done) => {
    finish(request, reply.statusCode, reply.elapsedTime, listeners)
    done()
  })
  app.addHook('onRequestAbort', (request, done) => {
    finish(request, CLIENT_CLOSED_STATUS, null, listeners)
    done()
  })
  // Fastify's onRequestAbort fires only while the body is still arriving (\`req.aborted\`); a
  // client that sent its whole body and then left (a JSON /predict, an LLM call while the answer
  // is generated) closes the response before it finishes, and neither hook runs: without this
  // its request would never reach the audit log.
  app.addHook('onRequest', (request, reply, done) => {
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) finish(request, CLIENT_CLOSED_STATUS, null, listeners)
    })
    done()
  })
}

export default fp(ledgerPlugin, { name: 'ledger' })
