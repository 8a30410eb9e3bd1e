/**
 * The IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers, structured fields), one
 * list item per named limit:
 *
 *   RateLimit-Policy: "minute";q=60;w=60, "day";q=10000;w=86400
 *   RateLimit: "minute";r=59;t=60, "day";r=9999;t=86400
 *
 * `r` is what the next request may still use; `t` is the number of seconds (rounded up) until
 * at least one more unit becomes available (0 when nothing is used).
 *
 * Credit balances (`accounting/credits.ts`) follow as items `credits` (the key's) and
 * `owner-credits`. The draft has no unit for a balance, so they carry the vendor-prefixed
 * parameter `ig-balance`, and `ig-refill` (seconds) when they are refilled; `q` is the refill
 * amount, or the balance itself when nothing refills it:
 *
 *   RateLimit-Policy: "minute";q=60;w=60, "credits";q=1000;ig-balance;ig-refill=2592000
 *   RateLimit: "minute";r=59;t=60, "credits";r=940;t=86400
 *
 * `r` is the balance left and `t` the seconds until the next refill (absent: none comes).
 */
import type { CreditState } from '../accounting/credits.js'
import type { LimitState } from './limiter.js'
import { ceilSeconds } from './limiter.js'
import type { LimitRule } from './policy.js'

export function policyHeader(rules: readonly LimitRule[]): string {
  return rules.map((rule) => `"${rule.name}";q=${rule.limit};w=${ceilSeconds(rule.windowMs)}`).join(', ')
}

export function stateHeader(states: readonly LimitState[]): string {
  return states.map((state) => `"${state.rule.name}";r=${state.remaining};t=${ceilSeconds(state.resetMs)}`).join(', ')
}

/** `credits` / `owner-credits`; a balance in tokens is `token-credits` / `owner-token-credits`, marked `ig-unit=tokens`. */
const creditName = (state: CreditState) => `${state.kind === 'key' ? '' : 'owner-'}${state.unit === 'tokens' ? 'token-' : ''}credits`
const creditUnit = (state: CreditState) => (state.unit === 'tokens' ? ';ig-unit=tokens' : '')

export function creditPolicyItems(states: readonly CreditState[]): string[] {
  return states.map((state) => {
    const refill = state.refill ? `;ig-refill=${ceilSeconds(state.refill.everyMs)}` : ''
    return `"${creditName(state)}";q=${state.refill?.amount ?? state.remaining};ig-balance${refill}${creditUnit(state)}`
  })
}

export function creditStateItems(states: readonly CreditState[], now: number): string[] {
  return states.map((state) => {
    const reset = state.nextRefillAt === null ? '' : `;t=${ceilSeconds(Math.max(0, state.nextRefillAt - now))}`
    return `"${creditName(state)}";r=${state.remaining}${reset}${creditUnit(state)}`
  })
}
