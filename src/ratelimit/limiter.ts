/**
 * The limiter contract shared by the memory and Redis backends.
 *
 * `consume` checks every rule of a subject (a key, an owner, a client IP) and charges the
 * cost to all of them only if all admit it: a request refused by one limit consumes none.
 * `consumeAll` does the same for several subjects at once (a key and its owner), atomically:
 * one decision, in one step in memory and one Lua call on Redis. `refund` gives back units
 * of an admitted decision that bought no work (see `accounting/meter.ts`): they are taken out
 * of the sub-bucket they were charged to, so the windows read as if they had never been
 * charged; a bucket that has left the window already counts nothing to give back.
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
  /** When the decision was made, on the limiter's clock (for a refund). */
  at: number
  /** Made by the in-memory fallback while the shared store was unreachable (`resilient.ts`). */
  fallback?: true
}

/** The rules of one subject, e.g. `key:key_…` or `owner:team-a`. */
export interface LimitGroup {
  subject: string
  rules: readonly LimitRule[]
}

export interface Limiter {
  /** Admits and charges `cost` on every rule, or refuses and charges nothing. Cost 0 only reads. */
  consume(subject: string, rules: readonly LimitRule[], cost: number): Decision | Promise<Decision>
  /** `consume` over the rules of several subjects as one decision; states in the groups' order. */
  consumeAll(groups: readonly LimitGroup[], cost: number): Decision | Promise<Decision>
  /** The current state of the groups' rules, charging nothing. */
  peek(groups: readonly LimitGroup[]): Decision | Promise<Decision>
  /** Gives back `cost` units (at most what was charged) of an admitted `decision` on the same groups. */
  refund(groups: readonly LimitGroup[], cost: number, decision: Decision): void | Promise<void>
  close(): Promise<void>
}

/** Milliseconds → whole seconds, rounded up (headers and messages never promise too early). */
export function ceilSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000))
}
