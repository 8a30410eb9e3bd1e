/**
 * The health of one LLM upstream (`--llm`): the remote models' circuit breaker
 * (`models/remote/breaker.ts`), their failure kinds and metrics, applied to an OpenAI-compatible
 * server. Consecutive failures that say the server is unhealthy (unreachable, timed out, 5xx,
 * 401/403/404/429, an answer cut off or not JSON) open it; while it is open, requests are
 * refused before any charge with 503 `upstream_unavailable` and Retry-After, without calling the
 * server; after the cooldown it probes `GET {baseUrl}/models` itself, and a 2xx closes it. A
 * refusal of one request (400, 413, 422: a prompt over the context length) counts for nothing.
 */
import type { Logger } from 'pino'
import type { UpstreamHealth, UpstreamState } from '../models/types.js'
import type { BreakerSettings } from '../models/remote/breaker.js'
import { CircuitBreaker, breakerThresholds } from '../models/remote/breaker.js'
import type { FailureKind } from '../models/remote/failure.js'
import { UpstreamFailure, failureAnswer } from '../models/remote/failure.js'
import type { UpstreamMetrics } from '../models/remote/metrics.js'

export interface LlmHealthOptions {
  name: string
  /** The server's origin, for the log (never its credential). */
  origin: string
  settings: BreakerSettings
  /** Resolves when the server answers `GET /models` with a 2xx. */
  probe: () => Promise<void>
  metrics?: UpstreamMetrics
  log?: Pick<Logger, 'info' | 'warn'>
}

export class LlmHealth implements UpstreamHealth {
  private readonly breaker: CircuitBreaker

  constructor(private readonly options: LlmHealthOptions) {
    this.breaker = new CircuitBreaker({
      ...breakerThresholds(options.settings),
      probe: () => this.probeLogged(),
      onChange: (state, detail) => this.changed(state, detail),
    })
    options.metrics?.watch(options.name, this.breaker)
  }

  state(): UpstreamState {
    return this.breaker.state()
  }

  retryAfterMs(): number {
    return this.breaker.retryAfterMs()
  }

  /** Throws the 503 (`upstream_unavailable`, Retry-After) of an open breaker; before any charge. */
  check(): void {
    try {
      this.breaker.check()
    } catch (error) {
      this.options.metrics?.failure(this.options.name, 'breaker_open')
      throw failureAnswer(error as UpstreamFailure, this.options.name)
    }
  }

  /** The server answered (headers of a 2xx, or a whole answer). */
  succeeded(seconds?: number): void {
    if (seconds !== undefined) this.options.metrics?.call(this.options.name, seconds)
    this.breaker.succeeded()
  }

  /** A call failed: counted toward opening the breaker when it says the server is unhealthy. */
  failed(kind: FailureKind, status?: number): void {
    const failure = new UpstreamFailure(kind, kind, status === undefined ? {} : { status })
    this.options.metrics?.failure(this.options.name, kind)
    if (failure.countsAgainstServer) this.breaker.failed()
  }

  stop(): void {
    this.breaker.stop()
  }

  private async probeLogged(): Promise<void> {
    try {
      await this.options.probe()
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      this.options.log?.warn(
        { llm: this.options.name, upstream: this.options.origin },
        `LLM "${this.options.name}" probe failed: ${reason}`,
      )
      throw error
    }
  }

  private changed(state: UpstreamState, detail: { failures: number; retryInMs: number }): void {
    if (state === 'open') this.options.metrics?.breakerOpened(this.options.name)
    if (state === 'half_open') return
    const fields = { llm: this.options.name, upstream: this.options.origin, breaker: state, ...detail }
    if (state === 'open') this.options.log?.warn(fields, `LLM "${this.options.name}" unavailable: requests refused until a probe succeeds`)
    else this.options.log?.info(fields, `LLM "${this.options.name}" available again`)
  }
}
