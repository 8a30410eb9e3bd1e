/**
 * The limiter contract shared by the memory and Redis backends.
 *
 * `consume` checks every rule of a subject (a key, an owner, a client IP) and charges the
 * cost to all of them only if all admit it: a request refused by one limit consumes none.
 */
import type { LimitRule } from './policy.js'

/** One rule's state after a decision. */
export interface LimitState {
  rule: LimitRule
  /** Units left for the next request. */
  remaining: number
  /** Milliseconds until at least one more unit is available again (0 when none is used). */
  resetMs: number
}

export interface Decision {
  allowed: boolean
  states: LimitState[]
  /** When refused: milliseconds until this request (same cost) would be admitted. */
  retryAfterMs: number
  /** When refused: the names of the rules that refused it. */
  blockedBy: string[]
  /** The cost exceeds a rule's whole limit: it can never be admitted. */
  exceedsLimit: boolean
}

export interface Limiter {
  /** Admits and charges `cost` on every rule, or refuses and charges nothing. Cost 0 only reads. */
  consume(subject: string, rules: readonly LimitRule[], cost: number): Decision | Promise<Decision>
  close(): Promise<void>
}

/** Milliseconds → whole seconds, rounded up (headers and messages never promise too early). */
export function ceilSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000))
}
