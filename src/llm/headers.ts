/**
 * Rate-limit headers of the LLM routes. The IETF items of the token limits join those of the
 * request limits in `RateLimit-Policy` / `RateLimit`, marked with the vendor parameter
 * `ig-unit=tokens` (the draft has no unit):
 *
 *   RateLimit-Policy: "minute";q=60;w=60, "tokens-day";q=100000;w=86400;ig-unit=tokens
 *   RateLimit: "minute";r=59;t=60, "tokens-day";r=98210;t=86400;ig-unit=tokens
 *
 * and OpenAI's headers, from the most constraining request limit and token limit:
 * `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`, `x-ratelimit-reset-requests`
 * (and `-tokens`), resets written as OpenAI does (`1s`, `6m0s`).
 */
import type { FastifyReply } from 'fastify'
import type { Decision, LimitState } from '../ratelimit/limiter.js'
import { ceilSeconds } from '../ratelimit/limiter.js'
import type { CreditState } from '../accounting/credits.js'
import { creditPolicyItems, creditStateItems, policyHeader, stateHeader } from '../ratelimit/headers.js'

const UNIT = ';ig-unit=tokens'

function withUnit(items: string): string {
  return items === ''
    ? ''
    : items
        .split(', ')
        .map((item) => item + UNIT)
        .join(', ')
}

function appendItems(reply: FastifyReply, name: string, items: string): void {
  if (items === '') return
  const before = reply.getHeader(name)
  reply.header(name, typeof before === 'string' && before !== '' ? `${before}, ${items}` : items)
}

/** `6m0s`, `1s`: OpenAI's way of writing a reset. */
function duration(ms: number): string {
  const seconds = ceilSeconds(ms)
  return seconds >= 60 ? `${Math.floor(seconds / 60)}m${seconds % 60}s` : `${seconds}s`
}

/** The state with the least left (relative to its limit): what bounds the next request. */
function tightest(states: readonly LimitState[]): LimitState | undefined {
  return states.reduce<LimitState | undefined>(
    (best, state) => (best === undefined || state.remaining / state.rule.limit < best.remaining / best.rule.limit ? state : best),
    undefined,
  )
}

function openAiHeaders(reply: FastifyReply, unit: 'requests' | 'tokens', states: readonly LimitState[]): void {
  const state = tightest(states)
  if (!state) return
  reply.header(`x-ratelimit-limit-${unit}`, String(state.rule.limit))
  reply.header(`x-ratelimit-remaining-${unit}`, String(state.remaining))
  reply.header(`x-ratelimit-reset-${unit}`, duration(state.resetMs))
}

/** Adds the items of the token credit balances a request held from (as they stand after the hold). */
export function setTokenCreditHeaders(reply: FastifyReply, states: readonly CreditState[], now: number): void {
  appendItems(reply, 'ratelimit-policy', creditPolicyItems(states).join(', '))
  appendItems(reply, 'ratelimit', creditStateItems(states, now).join(', '))
}

/** Adds the token limits' items and OpenAI's headers for the request and token limits. */
export function setLlmLimitHeaders(reply: FastifyReply, requests: Decision | null, tokens: Decision): void {
  const rules = tokens.states.map((state) => state.rule)
  appendItems(reply, 'ratelimit-policy', withUnit(policyHeader(rules)))
  appendItems(reply, 'ratelimit', withUnit(stateHeader(tokens.states)))
  if (requests) openAiHeaders(reply, 'requests', requests.states)
  openAiHeaders(reply, 'tokens', tokens.states)
}
