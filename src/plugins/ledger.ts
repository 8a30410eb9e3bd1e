/**
 * Gives every request its ledger (`http/ledger.ts`), and runs the one "finished" step: when the
 * answer has been sent, or the client went away before it (while sending the body, or after),
 * the request's outcome is worked out once and the same `FinishedRequest` goes to every
 * listener — the audit log, the metrics and the log line register with
 * `app.onRequestFinished(listener)`. What one request holds until it ends (a concurrency lease,
 * an LLM slot, a job body's texts) goes back through that request's `ledger.onFinished`, and
 * work still under way when a client leaves (a model submission, an LLM call) hears of it
 * through `ledger.onClientGone`. While work that may still change what a request is charged
 * is pending (its charge being made, its job being stored, an LLM call's tokens being settled:
 * `ledger.chargePending`), the listeners wait: they are told once the request is accounted for,
 * so that the audit record shows the charge that stayed.
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

/** How long shutdown waits for finished requests whose charge is still pending (a charge, a job being stored). */
const ACCOUNTING_TIMEOUT_MS = 2000

/** Finished requests whose record waits for a pending charge (`ledger.chargePending`), each with the step that tells the listeners. */
type Unaccounted = Map<FastifyRequest, () => void>

function finish(
  request: FastifyRequest,
  status: number,
  latencyMs: number | null,
  listeners: readonly FinishedListener[],
  unaccounted: Unaccounted,
): void {
  const ledger = request.ledger
  if (ledger.finished) return
  safely(request, () => ledger.markFinished())
  const finished: FinishedRequest = { request, ledger, status, latencyMs, outcome: outcomeOf(status, ledger.authFailure, ledger.errorCode) }
  if (ledger.accounted) return tellAll(finished, listeners)
  // Work that may still change the charge is pending (a client that left mid-charge, mid-store):
  // the record waits for it, so that it shows what stayed charged.
  let told = false
  const tell = () => {
    if (told) return
    told = true
    unaccounted.delete(request)
    tellAll(finished, listeners)
  }
  unaccounted.set(request, tell)
  ledger.onAccounted(tell)
}

function tellAll(finished: FinishedRequest, listeners: readonly FinishedListener[]): void {
  for (const listener of listeners) safely(finished.request, () => listener(finished))
}

/** Waits for the pending charges of finished requests; past `timeoutMs`, tells their listeners what is known. */
async function awaitAccounted(unaccounted: Unaccounted, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (unaccounted.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  for (const tell of [...unaccounted.values()]) tell()
}

/**
 * Runs a listener of the finished step or of a client leaving. These run from a socket's
 * `close` event too, where a throw would end the process: a listener's bug is logged instead,
 * and the other listeners still run.
 */
function safely(request: FastifyRequest, run: () => void): void {
  try {
    run()
  } catch (error) {
    request.server.log.error({ err: error, reqId: request.id }, 'a listener of a finished request failed')
  }
}

async function ledgerPlugin(app: FastifyInstance): Promise<void> {
  const listeners: FinishedListener[] = []
  const unaccounted: Unaccounted = new Map()
  app.decorate('onRequestFinished', (listener: FinishedListener) => {
    listeners.push(listener)
  })
  // Runs before the services close (onClose hooks run last-added first), so the audit log is still open.
  app.addHook('onClose', () => awaitAccounted(unaccounted, ACCOUNTING_TIMEOUT_MS))
  app.decorateRequest(SLOT, null)
  app.decorateRequest('ledger', {
    getter(this: FastifyRequest) {
      const request = this as WithSlot
      return (request[SLOT] ??= new RequestLedger(this))
    },
  })

  app.addHook('onResponse', (request, reply, done) => {
    finish(request, reply.statusCode, reply.elapsedTime, listeners, unaccounted)
    done()
  })
  // One `close` listener per request that needs a key (public routes — health, docs — are not
  // audited and have no work to stop): a response that closes before it finished means the
  // client left, whether while its body was still arriving or after, while the answer was being
  // worked out. Fastify's onRequestAbort covers only the first, and no response hook runs for
  // the second. The request is finished as abandoned (499), then whatever still works for it
  // hears of it (`ledger.onClientGone`: the model submission, an LLM call). A response written
  // whole whose connection was reset before Node could report it sent gets no onResponse
  // either: it is finished here as answered.
  app.addHook('onRequest', (request, reply, done) => {
    const { ledger } = request
    if (ledger.needsKey) {
      reply.raw.once('close', () => {
        if (ledger.finished) return
        // The whole answer was handed to the connection, and the client reset it before Node
        // reported it sent: neither 'finish' nor onResponse will come. It was answered.
        if (reply.raw.writableFinished) return finish(request, reply.statusCode, reply.elapsedTime, listeners, unaccounted)
        finish(request, CLIENT_CLOSED_STATUS, null, listeners, unaccounted)
        safely(request, () => ledger.clientLeft())
      })
    }
    done()
  })
}

export default fp(ledgerPlugin, { name: 'ledger' })
