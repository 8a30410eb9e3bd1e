/**
 * A model served by another server, as the rest of infergate sees every model: a
 * `TextClassifier` behind the registry's batcher. Each batch is one upstream call through the
 * model's breaker; a failure becomes the caller's 502/503/504, a log line (kind and status, never
 * the body or the credential) and a metric.
 */
import type { Logger } from 'pino'
import type { Classification, ModelInfo, TextClassifier, UpstreamHealth } from '../types.js'
import { CircuitBreaker, breakerThresholds } from './breaker.js'
import { UpstreamFailure, failureAnswer, lateAnswer } from './failure.js'
import type { UpstreamMetrics } from './metrics.js'
import type { Call, Protocol } from './protocol.js'
import type { RemoteModelSpec } from './spec.js'
import type { UpstreamClient } from './upstream.js'

export interface RemoteModelOptions {
  spec: RemoteModelSpec
  protocol: Protocol
  client: UpstreamClient
  metrics?: UpstreamMetrics
  log?: Pick<Logger, 'info' | 'warn'>
}

export class RemoteModel implements TextClassifier {
  readonly info: ModelInfo
  private readonly breaker: CircuitBreaker
  private readonly name: string

  constructor(private readonly options: RemoteModelOptions) {
    const { spec, protocol } = options
    this.name = spec.name
    this.info = {
      name: spec.name,
      task: 'text-classification',
      labels: [...protocol.labels],
      source: spec.url,
      protocol: spec.protocol,
    }
    this.breaker = new CircuitBreaker({
      ...breakerThresholds(spec),
      probe: () => this.probeLogged(),
      onChange: (state, detail) => this.changed(state, detail),
    })
    options.metrics?.watch(spec.name, this.breaker)
  }

  get upstream(): UpstreamHealth {
    return this.breaker
  }

  async classifyBatch(texts: readonly string[], signal?: AbortSignal): Promise<Classification[]> {
    try {
      this.breaker.check()
      const results = await this.options.protocol.classify(texts, this.caller(signal))
      this.breaker.succeeded()
      return results
    } catch (error) {
      throw this.failed(error)
    }
  }

  lateError(): Error {
    return lateAnswer(this.name)
  }

  /** Checks the server answers as configured; throws `UpstreamFailure` or `ProbeMismatch`. */
  probe(): Promise<void> {
    return this.options.protocol.probe(this.caller())
  }

  /** The breaker's probe: a failure is logged, so that a server that answers wrongly is not silently refused for ever. */
  private async probeLogged(): Promise<void> {
    try {
      await this.probe()
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      this.options.log?.warn({ model: this.name, upstream: this.options.client.origin }, `remote model "${this.name}" probe failed: ${reason}`)
      throw error
    }
  }

  /** Serves the model as unavailable until a probe succeeds (a server down at start, `optional=true`). */
  startUnavailable(): void {
    this.breaker.open()
  }

  async close(): Promise<void> {
    this.breaker.stop()
    await this.options.client.close()
  }

  private caller(signal?: AbortSignal): Call {
    return async (request) => {
      const started = performance.now()
      try {
        return await this.options.client.call(request, signal)
      } finally {
        this.options.metrics?.call(this.name, (performance.now() - started) / 1000)
      }
    }
  }

  private failed(error: unknown): Error {
    if (!(error instanceof UpstreamFailure)) return error as Error
    this.options.metrics?.failure(this.name, error.kind)
    if (error.countsAgainstServer) this.breaker.failed()
    if (error.kind !== 'aborted' && error.kind !== 'breaker_open') {
      this.options.log?.warn({ model: this.name, upstream: this.options.client.origin, kind: error.kind, status: error.status }, `remote model call failed: ${error.message}`)
    }
    return failureAnswer(error, this.name)
  }

  private changed(state: string, detail: { failures: number; retryInMs: number }): void {
    if (state === 'open') this.options.metrics?.breakerOpened(this.name)
    if (state === 'half_open') return
    const log = this.options.log
    const fields = { model: this.name, upstream: this.options.client.origin, breaker: state, ...detail }
    if (state === 'open') log?.warn(fields, `remote model "${this.name}" unavailable: calls refused until a probe succeeds`)
    else log?.info(fields, `remote model "${this.name}" available again`)
  }
}
