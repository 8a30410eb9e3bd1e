/**
 * Concurrency caps per key and per owner (`ratelimit/concurrency.ts`): once a request is
 * authenticated it takes a lease on its key's cap and its owner's, all or none, and gives them
 * back when its answer is sent or its client goes away. A request beyond a cap is refused at once
 * with `429 concurrency_limited` and `Retry-After: 1`, before it is validated or charged, so it
 * costs nothing. The caps are advertised in `RateLimit-Policy` (`qu="concurrent-requests"`,
 * draft-ietf-httpapi-ratelimit-headers) and what is left of them in `RateLimit`.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ErrorCode } from '../errors.js'
import type { Principal } from '../keys/types.js'
import type { CapsState, ConcurrencyCap, ConcurrencyGate } from '../ratelimit/concurrency.js'

interface ConcurrencyOptions {
  gate: ConcurrencyGate
}

function capsOf(principal: Principal): (ConcurrencyCap & { name: string })[] {
  const caps: (ConcurrencyCap & { name: string })[] = []
  if (principal.concurrency !== null) caps.push({ name: 'concurrency', subject: `key:${principal.keyId}`, limit: principal.concurrency })
  if (principal.ownerConcurrency !== null)
    caps.push({ name: 'owner-concurrency', subject: `owner:${principal.owner}`, limit: principal.ownerConcurrency })
  return caps
}

function appendHeaders(reply: FastifyReply, held: CapsState): void {
  const policy = held.caps.map((cap) => `"${cap.name}";q=${cap.limit};qu="concurrent-requests"`)
  const state = held.caps.map((cap, i) => `"${cap.name}";r=${Math.max(0, cap.limit - held.inFlight[i]!)}`)
  const join = (name: string, items: string[]) => {
    const before = reply.getHeader(name)
    reply.header(name, [...(typeof before === 'string' && before !== '' ? [before] : []), ...items].join(', '))
  }
  join('ratelimit-policy', policy)
  join('ratelimit', state)
}

async function concurrency(app: FastifyInstance, options: ConcurrencyOptions): Promise<void> {
  /** Takes the request's leases, or refuses it; the leases are given back however it ends (`ledger.onFinished`). */
  async function admit(request: FastifyRequest, principal: Principal): Promise<void> {
    const caps = capsOf(principal)
    const admission = await options.gate.acquire(caps)
    request.ledger.concurrency = { caps, inFlight: admission.inFlight }
    if (!admission.ok) {
      const whose = admission.blockedBy.startsWith('owner:') ? 'owner' : 'key'
      throw new AppError(ErrorCode.ConcurrencyLimited, `Too many requests in flight for this ${whose}; wait for one to finish.`, {
        headers: { 'retry-after': '1' },
      })
    }
    request.ledger.onFinished(admission.release)
  }

  // After auth's onRequest (registered before): the principal is known, nothing else was done.
  // A callback hook: no promise per request for the keys without a cap.
  app.addHook('onRequest', (request, _reply, done) => {
    const principal = request.ledger.principal
    if (principal === null || (principal.concurrency === null && principal.ownerConcurrency === null)) return done()
    admit(request, principal).then(() => done(), done)
  })

  // After rate-limit's onSend (registered before), which sets the limits' items first.
  app.addHook('onSend', (request, reply, payload, done) => {
    const held = request.ledger.concurrency
    if (held) appendHeaders(reply, held)
    done(null, payload)
  })
}

export default fp(concurrency, { name: 'concurrency', dependencies: ['ledger', 'auth', 'rate-limit'] })
