/**
 * What happens when Redis is unreachable. `open` (default): fall back to the in-memory
 * limiter, log once per outage and count it; `closed`: refuse with 503
 * `ratelimit_unavailable`. Every request tries Redis first, so service recovers by itself as
 * soon as Redis answers again (ioredis reconnects in the background and fails fast meanwhile).
 */
import type { Logger } from 'pino'
import { errors } from '../errors.js'
import type { Decision, LimitGroup, Limiter } from './limiter.js'
import type { LimitRule } from './policy.js'

type FailMode = 'open' | 'closed'

export interface ResilientLimiterOptions {
  primary: Limiter
  fallback: Limiter
  mode: FailMode
  log: Pick<Logger, 'warn' | 'info'>
}

export class ResilientLimiter implements Limiter {
  /** Requests decided by the fallback because the primary failed. */
  fallbackDecisions = 0
  /** Outages seen (a run of failures counts once). */
  outages = 0
  private down = false

  constructor(private readonly options: ResilientLimiterOptions) {}

  get degraded(): boolean {
    return this.down
  }

  consume(subject: string, rules: readonly LimitRule[], cost: number): Promise<Decision> {
    return this.consumeAll([{ subject, rules }], cost)
  }

  peek(groups: readonly LimitGroup[]): Promise<Decision> {
    return this.consumeAll(groups, 0)
  }

  async consumeAll(groups: readonly LimitGroup[], cost: number): Promise<Decision> {
    try {
      const decision = await this.options.primary.consumeAll(groups, cost)
      if (this.down) this.recovered()
      return decision
    } catch (error) {
      this.failed(error)
      if (this.options.mode === 'closed') {
        throw errors.rateLimitUnavailable()
      }
      this.fallbackDecisions++
      const decision = await this.options.fallback.consumeAll(groups, cost)
      return { ...decision, fallback: true }
    }
  }

  /**
   * Gives back to whichever limiter charged. A refund the shared store cannot take is dropped:
   * the caller then pays for work it did not get, but no window ever admits more than its limit.
   */
  async refund(groups: readonly LimitGroup[], cost: number, decision: Decision): Promise<void> {
    if (decision.fallback) return this.options.fallback.refund(groups, cost, decision)
    try {
      await this.options.primary.refund(groups, cost, decision)
    } catch (error) {
      this.failed(error)
    }
  }

  private failed(error: unknown): void {
    if (this.down) return
    this.down = true
    this.outages++
    this.options.log.warn(
      { err: error, mode: this.options.mode },
      this.options.mode === 'open'
        ? 'rate-limit store unreachable: limiting in memory per instance until it returns'
        : 'rate-limit store unreachable: refusing requests with 503 until it returns',
    )
  }

  private recovered(): void {
    this.down = false
    this.options.log.info({ fallbackDecisions: this.fallbackDecisions }, 'rate-limit store reachable again')
  }

  async close(): Promise<void> {
    await this.options.primary.close()
    await this.options.fallback.close()
  }
}
