/**
 * The request's ledger: one typed record per request of everything the gateway decides about
 * it — which route it is and whether it needs a key, who is calling (or why they were refused),
 * what it was charged and where the caller stands against its limits, the work it did, and the
 * error code of its answer.
 *
 * Authentication, the rate limiter, the error handler and the routes only write to it; one
 * "finished" step (`plugins/ledger.ts`) reads it once, when the answer is sent or the client
 * leaves, works out the outcome, and hands the same `FinishedRequest` to the audit log, the
 * metrics and the log line. No other per-request state is kept on the request.
 */
import type { FastifyContextConfig, FastifyRequest } from 'fastify'
import type { Outcome } from '../audit/outcomes.js'
import type { ErrorCode } from '../errors.js'
import type { AuthFailure } from '../keys/refusals.js'
import type { Principal, Scope } from '../keys/types.js'
import type { Charge } from '../accounting/meter.js'
import type { CapsState } from '../ratelimit/concurrency.js'
import { Once } from '../lib/once.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without a key (health, docs). */
    public?: boolean
    /** Scope the key needs (any one of a list); default `predict`. */
    scope?: Scope | readonly Scope[]
    /**
     * Units a request costs against its key's and owner's limits (`accounting/costs.ts`),
     * worked out after validation and before any work; it may throw to refuse at no cost.
     * Default: 1.
     */
    cost?: (request: FastifyRequest) => number
    /** An OpenAI-compatible route (`routes/openai.ts`): errors in OpenAI's shape. */
    openai?: boolean
  }
  interface FastifyRequest {
    /** What the gateway decided about this request so far (`http/ledger.ts`). */
    readonly ledger: RequestLedger
  }
}

/** What a prediction asked of which model: counts only, never the texts. */
export interface WorkDone {
  model: string
  texts: number
  chars: number
}

/** Tokens of an LLM request (`routes/openai.ts`): as reported by the upstream, or as reserved when it reported none. */
export interface TokensUsed {
  in: number
  out: number
}

/** A well-formed key that was refused: its id when it exists, and its visible prefix (for the audit log). */
export interface RefusedKey {
  id: string | null
  prefix: string
}

const DEFAULT_SCOPES: readonly Scope[] = ['predict']

export class RequestLedger {
  /** The route pattern (`/v1/jobs/:id`), never the URL; null when no route matched. */
  readonly route: string | null
  /** Whether the request must present a key: every matched route unless it is public. */
  readonly needsKey: boolean
  /** The route's settings (scope, cost), read once. */
  readonly config: FastifyContextConfig
  /**
   * The client's address (`request.ip`: the TCP peer, or X-Forwarded-For from a trusted proxy),
   * read when the request arrives: once the client has reset the connection the socket no
   * longer knows it, and the audit record is written after that.
   */
  readonly ip: string | null

  /** The authenticated caller (set by auth). */
  principal: Principal | null = null
  /** Why authentication failed (set by auth): the true reason, which the caller never sees. */
  authFailure: AuthFailure | null = null
  refusedKey: RefusedKey | null = null
  /** The request's charge against its limits (`accounting/meter.ts`), once checked. */
  charge: Charge | null = null
  /** Where the caller stood against its concurrency caps, when it has any (set by the concurrency plugin). */
  concurrency: CapsState | null = null
  /** The work the route did (set by the route). */
  work: WorkDone | null = null
  /** The tokens an LLM request used (set by the OpenAI-compatible routes). */
  tokens: TokensUsed | null = null
  /** The error code of the answer, when the request failed (set by the error handler). */
  errorCode: ErrorCode | null = null
  /** The audit log owes this request a record (set by the audit plugin when it admits it). */
  auditOwed = false
  /** The finished step ran (`markFinished`): answered, failed or abandoned. */
  private readonly finishedEvent = new Once()
  /** The client left before its answer was complete (`clientLeft`). */
  private readonly goneEvent = new Once()
  /** Finished, and no work that may still change the charge is pending (`chargePending`): the request is accounted for. */
  private readonly accountedEvent = new Once()
  /** Work under way that may still change what the request is charged. */
  private pendingCharges = 0

  constructor(request: FastifyRequest) {
    // routeOptions builds a new object on every read: read it once per request.
    const { url, config } = request.routeOptions
    this.route = url ?? null
    this.config = config
    this.needsKey = url !== undefined && config.public !== true
    // Typed as a string, but undefined once the socket is gone (a ledger made after that).
    const ip: string | undefined = request.ip
    this.ip = ip ?? null
  }

  /** The units this request stays charged: 0 until admitted, and less once work is refunded. */
  get cost(): number {
    return this.charge?.units ?? 0
  }

  /** Whether the finished step has run, so that it runs once. */
  get finished(): boolean {
    return this.finishedEvent.happened
  }

  /** Whether the request is finished and no work that may change its charge is pending: its record can be made. */
  get accounted(): boolean {
    return this.accountedEvent.happened
  }

  /** Whether the client left before its answer was complete. */
  get clientGone(): boolean {
    return this.goneEvent.happened
  }

  /**
   * Calls `listener` if the client leaves before its answer is complete (work for it can then
   * stop), or at once if it has left already; returns the function that stops listening. The
   * ledger plugin's one `close` listener per request is the only source of this signal.
   */
  onClientGone(listener: () => void): () => void {
    return this.goneEvent.listen(listener)
  }

  /** The client left before its answer was complete: tells the listeners, once (called by the ledger plugin). */
  clientLeft(): void {
    this.goneEvent.happen()
  }

  /**
   * Calls `listener` once this request is finished — answered, failed or abandoned — or at once
   * if it is already: what the request holds for its lifetime (a concurrency lease, a slot on an
   * LLM server, a job body's texts) goes back there, whatever happened to it. Must not throw.
   */
  onFinished(listener: () => void): void {
    this.finishedEvent.listen(listener)
  }

  /** Marks the request finished and tells the `onFinished` listeners, once (called by the ledger plugin's finished step). */
  markFinished(): void {
    try {
      this.finishedEvent.happen()
    } finally {
      if (this.pendingCharges === 0) this.accountedEvent.happen()
    }
  }

  /**
   * Says that work is under way that may still change what the request is charged (its charge
   * being made, its job being stored, an LLM call's tokens being settled): a client may leave
   * meanwhile, and the request's record must show what it was charged once that work is done,
   * refunds included. Returns `done` (a second call does nothing); call it in a `finally`.
   */
  chargePending(): () => void {
    this.pendingCharges++
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.pendingCharges--
      if (this.pendingCharges === 0 && this.finished) this.accountedEvent.happen()
    }
  }

  /**
   * Calls `listener` once the request is finished and no work that may change its charge is
   * pending (`chargePending`), or at once if so already: the audit record, the metrics and the
   * log line are made there, so that they show the charge that stayed. Must not throw.
   */
  onAccounted(listener: () => void): void {
    this.accountedEvent.listen(listener)
  }

  /** The scopes of which the caller's key needs one. */
  get scopes(): readonly Scope[] {
    const scope = this.config.scope
    if (scope === undefined) return DEFAULT_SCOPES
    return typeof scope === 'string' ? [scope] : scope
  }
}

/** A request once answered (or abandoned), as the audit log, the metrics and the log line see it. */
export interface FinishedRequest {
  readonly request: FastifyRequest
  readonly ledger: RequestLedger
  readonly status: number
  readonly outcome: Outcome
  /** Milliseconds from arrival to the answer; null when the client left first. */
  readonly latencyMs: number | null
}

/**
 * The authenticated caller of a route that needs a key. Auth runs before every such route, so a
 * missing principal here is a bug, reported as a 500 rather than served as anonymous.
 */
export function requirePrincipal(request: FastifyRequest): Principal {
  const principal = request.ledger.principal
  if (principal === null) throw new Error(`route ${request.ledger.route ?? '?'} ran without an authenticated key`)
  return principal
}
