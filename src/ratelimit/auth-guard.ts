/**
 * The brute-force guard: failed authentications are limited per client IP. Once an address
 * has used its allowance, every request from it is refused with 429 — even with a valid key —
 * until the window lets one more failure through.
 *
 * Failures are counted in the shared limiter (Redis when configured), so instances add them
 * up; the "blocked until" time is kept per instance and learned at the address's next failure
 * there, so that requests with valid keys never pay an extra round trip.
 */
import { LRUCache } from 'lru-cache'
import type { Clock } from '../lib/clock.js'
import type { Limiter } from './limiter.js'
import type { LimitRule } from './policy.js'

export interface AuthGuardOptions {
  limiter: Limiter
  rule: LimitRule
  clock: Clock
  /** Most addresses remembered as blocked; default 100,000. */
  maxBlocked?: number
}

export class AuthFailureGuard {
  private readonly blocked: LRUCache<string, number>

  constructor(private readonly options: AuthGuardOptions) {
    this.blocked = new LRUCache({ max: options.maxBlocked ?? 100_000 })
  }

  /** Milliseconds the address stays refused (0: not refused). */
  blockedFor(ip: string): number {
    const until = this.blocked.get(ip)
    if (until === undefined) return 0
    const left = until - this.options.clock.now()
    if (left > 0) return left
    this.blocked.delete(ip)
    return 0
  }

  /** Counts a failed authentication; blocks the address once its allowance is used up. */
  async recordFailure(ip: string): Promise<void> {
    const decision = await this.options.limiter.consume(`ip:${ip}`, [this.options.rule], 1)
    const state = decision.states[0]!
    if (decision.allowed && state.remaining > 0) return
    const wait = decision.allowed ? state.resetMs : decision.retryAfterMs
    this.blocked.set(ip, this.options.clock.now() + wait)
  }
}
