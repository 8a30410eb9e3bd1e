/**
 * A circuit breaker per remote model. `closed`: calls go through, and consecutive failures are
 * counted. After `failures` of them it opens: calls are refused at once (503 with Retry-After)
 * instead of each holding a connection and a caller until the server's timeout. After the
 * cooldown it goes `half_open` and probes the server itself (the protocol's probe, never a
 * client's request): success closes it, failure opens it again for twice as long, up to
 * `maxCooldownMs`. A call that succeeds closes it whatever its state.
 */
import type { UpstreamHealth, UpstreamState } from '../types.js'
import { UpstreamFailure } from './failure.js'

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failures: number
  /** First wait before a probe; doubled after each failed probe. */
  cooldownMs: number
  maxCooldownMs: number
  /** Resolves when the server answers as it should. */
  probe: () => Promise<void>
  /** Told about every change of state. */
  onChange?: (state: UpstreamState, detail: { failures: number; retryInMs: number }) => void
  now?: () => number
}

/** A server's own breaker settings (`breaker-failures`, `breaker-cooldown` of `--model` and `--llm`). */
export interface BreakerSettings {
  breakerFailures?: number
  breakerCooldownMs?: number
}

const BREAKER_DEFAULTS = { failures: 5, cooldownMs: 5_000, maxCooldownMs: 60_000 }

/** The thresholds of a breaker: a server's settings, or the defaults (5 failures, 5 s doubling up to 60 s). */
export function breakerThresholds(settings: BreakerSettings): Pick<BreakerOptions, 'failures' | 'cooldownMs' | 'maxCooldownMs'> {
  return {
    failures: settings.breakerFailures ?? BREAKER_DEFAULTS.failures,
    cooldownMs: settings.breakerCooldownMs ?? BREAKER_DEFAULTS.cooldownMs,
    maxCooldownMs: Math.max(settings.breakerCooldownMs ?? 0, BREAKER_DEFAULTS.maxCooldownMs),
  }
}

export class CircuitBreaker implements UpstreamHealth {
  private current: UpstreamState = 'closed'
  private consecutive = 0
  private cooldown: number
  private probeAt = 0
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(private readonly options: BreakerOptions) {
    this.cooldown = options.cooldownMs
  }

  state(): UpstreamState {
    return this.current
  }

  retryAfterMs(): number {
    if (this.current === 'closed') return 0
    return Math.max(1000, this.probeAt - this.now())
  }

  /** Throws `breaker_open` unless calls may go through. */
  check(): void {
    if (this.current === 'closed') return
    throw new UpstreamFailure('breaker_open', 'circuit breaker open', { retryAfterMs: this.retryAfterMs() })
  }

  succeeded(): void {
    this.consecutive = 0
    this.cooldown = this.options.cooldownMs
    if (this.current !== 'closed') this.change('closed')
  }

  failed(): void {
    this.consecutive++
    if (this.current === 'closed' && this.consecutive >= this.options.failures) this.open()
  }

  /** Opens at once: a server that did not answer the start-up probe. */
  open(): void {
    clearTimeout(this.timer)
    this.probeAt = this.now() + this.cooldown
    this.change('open')
    if (this.closed) return
    this.timer = setTimeout(() => void this.probe(), this.cooldown)
    this.timer.unref()
  }

  /** Stops probing (the model is being closed). */
  stop(): void {
    this.closed = true
    clearTimeout(this.timer)
  }

  private async probe(): Promise<void> {
    this.change('half_open')
    const healthy = await this.options.probe().then(
      () => true,
      () => false,
    )
    if (this.current !== 'half_open') return // a call succeeded meanwhile and closed it
    if (healthy) return this.succeeded()
    this.cooldown = Math.min(this.cooldown * 2, this.options.maxCooldownMs)
    this.open()
  }

  private change(state: UpstreamState): void {
    this.current = state
    this.options.onChange?.(state, { failures: this.consecutive, retryInMs: state === 'closed' ? 0 : this.retryAfterMs() })
  }

  private now(): number {
    return this.options.now?.() ?? Date.now()
  }
}
