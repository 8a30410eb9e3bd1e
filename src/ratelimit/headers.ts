/**
 * The IETF rate-limit headers (draft-ietf-httpapi-ratelimit-headers, structured fields), one
 * list item per named limit:
 *
 *   RateLimit-Policy: "minute";q=60;w=60, "day";q=10000;w=86400
 *   RateLimit: "minute";r=59;t=60, "day";r=9999;t=86400
 *
 * `r` is what the next request may still use; `t` is the number of seconds (rounded up) until
 * at least one more unit becomes available (0 when nothing is used).
 */
import type { LimitState } from './limiter.js'
import { ceilSeconds } from './limiter.js'
import type { LimitRule } from './policy.js'

export function policyHeader(rules: readonly LimitRule[]): string {
  return rules.map((rule) => `"${rule.name}";q=${rule.limit};w=${ceilSeconds(rule.windowMs)}`).join(', ')
}

export function stateHeader(states: readonly LimitState[]): string {
  return states.map((state) => `"${state.rule.name}";r=${state.remaining};t=${ceilSeconds(state.resetMs)}`).join(', ')
}
