/**
 * One LLM request through infergate, after authentication and the request limits: reserve its
 * tokens (on the token limits, then on the token credit balances), call the upstream, relay the
 * answer (whole, or as a stream), and settle the tokens to the reported usage. Refused or failed
 * work costs nothing: the tokens and the request's unit go back when the upstream is not reached
 * or refuses. The upstream's circuit breaker (`health.ts`) hears how each call went.
 */
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import { AppError, ErrorCode, errors } from '../errors.js'
import { requirePrincipal } from '../http/ledger.js'
import type { Meter, QuotaRefusal } from '../accounting/meter.js'
import { quotaHeaders } from '../accounting/meter.js'
import type { Clock } from '../lib/clock.js'
import { ceilSeconds } from '../ratelimit/limiter.js'
import type { Reservation, TokenBudget } from './budget.js'
import type { TokenCredits } from './token-credits.js'
import { setLlmLimitHeaders, setTokenCreditHeaders } from './headers.js'
import type { RelayState } from './relay.js'
import { relayEvents } from './relay.js'
import type { LlmEndpoint, LlmUpstream } from './upstream.js'
import type { Usage } from './usage.js'
import { usageOf, usageTotal } from './usage.js'

/** What a route worked out about its request before the call. */
export interface LlmCall {
  endpoint: LlmEndpoint
  upstream: LlmUpstream
  /** The body sent upstream (the model renamed, max_tokens and stream_options set). */
  body: Record<string, unknown>
  promptTokens: number
  /** Most completion tokens the answer may hold (0 for embeddings). */
  completionTokens: number
  stream: boolean
  /** The client asked for the final usage chunk itself. */
  clientWantsUsage: boolean
  /** Messages, prompts or inputs: the audit record's `texts`. */
  items: number
}

export interface CallDependencies {
  tokens: TokenBudget
  tokenCredits: TokenCredits
  meter: Meter
  clock: Clock
}

/**
 * A token balance too low for the reservation: 429 `quota_exhausted` (OpenAI's type
 * `insufficient_quota`, as OpenAI answers an exhausted quota), with the headers of every
 * credits refusal (`Retry-After` to the refill, `x-should-retry: false`).
 */
function creditsRefused(refusal: QuotaRefusal, reserved: number, now: number): AppError {
  const whose = refusal.subject.kind === 'key' ? "This key's" : "This key's owner's"
  return new AppError(
    ErrorCode.QuotaExhausted,
    `${whose} token credits cannot cover this request's ${reserved} tokens (prompt + max_tokens); lower max_tokens or wait for the refill`,
    { headers: quotaHeaders(refusal, now) },
  )
}

function tokensRefused(reservation: Reservation): AppError {
  if (reservation.decision.exceedsLimit) {
    return new AppError(
      ErrorCode.ValidationError,
      `This request reserves ${reservation.reserved} tokens (prompt + max_tokens), more than a token limit allows; lower max_tokens or split it`,
    )
  }
  const seconds = Math.max(1, ceilSeconds(reservation.decision.retryAfterMs))
  return new AppError(ErrorCode.RateLimited, `Token limit exceeded. Try again in ${seconds} seconds.`, {
    headers: { 'retry-after': String(seconds) },
  })
}

/** Why the upstream could not be used, as an answer: its credential problems are never the caller's. */
function upstreamRefusal(status: number, message: string | null): AppError {
  if (status === 400 || status === 404 || status === 413 || status === 422) {
    return new AppError(ErrorCode.BadRequest, message ?? 'The model server refused the request')
  }
  if (status === 429 || status === 503) {
    return new AppError(ErrorCode.UpstreamUnavailable, 'The model server is busy; try again shortly', { headers: { 'retry-after': '1' } })
  }
  return new AppError(ErrorCode.UpstreamError, 'The model server failed')
}

function callFailure(error: unknown): AppError {
  const code = (error as { code?: string }).code
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new AppError(ErrorCode.UpstreamTimeout, 'The model server did not answer in time')
  return new AppError(ErrorCode.UpstreamUnavailable, 'The model server cannot be reached', { headers: { 'retry-after': '1' } })
}

/** The `error.message` of an upstream's error answer (a short string), or null. */
async function upstreamMessage(response: Dispatcher.ResponseData): Promise<string | null> {
  try {
    const body = (await response.body.json()) as { error?: { message?: unknown } | string }
    const message = typeof body.error === 'string' ? body.error : body.error?.message
    return typeof message === 'string' && message.length <= 2000 ? message : null
  } catch {
    return null
  }
}

/**
 * Runs the call with the request's charge pending (`ledger.chargePending`) until what it is
 * charged is known: a client that leaves while its tokens are reserved, the answer generated or
 * its usage settled is recorded with the tokens it was charged in the end. For a stream, until
 * the stream is handed to the reply; its tokens are settled when it ends or breaks off.
 */
export async function runLlmCall(request: FastifyRequest, reply: FastifyReply, call: LlmCall, deps: CallDependencies): Promise<unknown> {
  const done = request.ledger.chargePending()
  try {
    return await callUpstream(request, reply, call, deps)
  } finally {
    done()
  }
}

async function callUpstream(request: FastifyRequest, reply: FastifyReply, call: LlmCall, deps: CallDependencies): Promise<unknown> {
  const principal = requirePrincipal(request)
  const ledger = request.ledger
  ledger.work = { model: call.upstream.spec.name, texts: call.items, chars: 0 }
  const reserved = call.promptTokens + call.completionTokens
  const reservation = await deps.tokens.reserve(principal, reserved)
  setLlmLimitHeaders(reply, ledger.charge?.decision ?? null, reservation.decision)
  if (!reservation.decision.allowed) {
    if (ledger.charge) deps.meter.refund(ledger.charge)
    throw tokensRefused(reservation)
  }
  const release = async () => {
    await deps.tokens.settle(reservation, 0)
    if (ledger.charge) deps.meter.refund(ledger.charge)
  }
  // Refused, or the store failed while holding: nothing was done, so the limits get their units back.
  const held = await deps.tokenCredits.hold(principal, reserved).catch(async (error: unknown) => {
    await release()
    throw error
  })
  if (!held.ok) {
    await release()
    throw creditsRefused(held.refusal, reserved, deps.clock.now())
  }
  const { hold } = held
  // The client left while its tokens were being reserved (round trips to Redis and the store):
  // no call is made and the tokens go back; the request's unit stays charged.
  if (ledger.finished) {
    await Promise.all([deps.tokens.settle(reservation, 0), deps.tokenCredits.settle(hold, 0)])
    throw errors.clientClosed()
  }
  setTokenCreditHeaders(reply, held.states, deps.clock.now())
  const giveBack = async () => {
    await Promise.all([deps.tokens.settle(reservation, 0), deps.tokenCredits.settle(hold, 0)])
    if (ledger.charge) deps.meter.refund(ledger.charge)
    ledger.tokens = null
  }
  // Until the upstream says otherwise, the request is accounted its whole reservation.
  ledger.tokens = { in: call.promptTokens, out: call.completionTokens }
  const noteUsage = (usage: Usage) => {
    ledger.tokens = { in: usage.promptTokens, out: usage.completionTokens }
  }
  const settle = async (usage: Usage | null) => {
    const used = usage === null ? null : usageTotal(usage)
    await Promise.all([deps.tokens.settle(reservation, used), deps.tokenCredits.settle(hold, used)])
    if (usage) noteUsage(usage)
  }

  const abort = new AbortController()
  const stopListening = ledger.onClientGone(() => abort.abort())
  // The upstream's breaker hears how each call went; a client that left says nothing about the server.
  const { health } = call.upstream
  const started = performance.now()
  let response: Dispatcher.ResponseData
  try {
    response = await call.upstream.call(call.endpoint, call.body, abort.signal)
  } catch (error) {
    stopListening()
    if (abort.signal.aborted) {
      // The server had the request: a non-streaming answer's headers come only once it is
      // generated, so a client leaving just before them would otherwise have had a whole
      // generation for nothing, as often as it liked. It is charged as a stream it leaves is.
      await settle(null)
      throw errors.clientClosed()
    }
    await giveBack()
    const failure = callFailure(error)
    health.failed(failure.code === ErrorCode.UpstreamTimeout ? 'timeout' : 'unreachable')
    throw failure
  }
  if (response.statusCode >= 400) {
    stopListening()
    health.failed('status', response.statusCode)
    const message = await upstreamMessage(response)
    await giveBack()
    throw upstreamRefusal(response.statusCode, message)
  }
  health.succeeded((performance.now() - started) / 1000)
  if (!call.stream) {
    try {
      const answer = (await response.body.json()) as { usage?: unknown }
      await settle(usageOf(answer))
      return answer
    } catch (error) {
      // The answer broke off or is not JSON: the upstream did the work, so the reservation stays.
      await settle(null)
      if (abort.signal.aborted) throw errors.clientClosed()
      health.failed(error instanceof SyntaxError ? 'invalid_answer' : 'dropped')
      throw error instanceof SyntaxError
        ? new AppError(ErrorCode.UpstreamError, 'The model server answered something unusable')
        : callFailure(error)
    } finally {
      stopListening()
    }
  }
  // The usage is the request's tokens as soon as it comes: a client that leaves before [DONE] is
  // recorded with the usage its stream will be settled with.
  const state: RelayState = { usage: null, failed: false, events: 0, onUsage: noteUsage }
  async function* relay(): AsyncGenerator<string> {
    try {
      yield* relayEvents(response.body, call.clientWantsUsage, state)
      // Ended without [DONE] while the client was still there: the server broke off.
      if (state.failed && !abort.signal.aborted) health.failed('dropped')
    } finally {
      stopListening()
      // The client left (or the relay ended early): stop the upstream's generation now.
      if (!response.body.readableEnded) abort.abort()
      response.body.resume()
      await settle(state.usage)
    }
  }
  reply.header('content-type', 'text/event-stream; charset=utf-8')
  reply.header('cache-control', 'no-cache')
  reply.header('x-accel-buffering', 'no')
  return reply.send(Readable.from(relay(), { objectMode: false }))
}
