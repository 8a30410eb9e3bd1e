/**
 * Prometheus metrics of the remote models' servers and the LLM servers, in the app's registry:
 * call latency, failures by kind, each circuit breaker's state, and an LLM server's calls in flight.
 */
import type { Registry } from 'prom-client'
import { Counter, Gauge, Histogram } from 'prom-client'
import type { UpstreamHealth, UpstreamState } from '../types.js'
import type { FailureKind } from './failure.js'

const STATE_VALUE: Record<UpstreamState, number> = { closed: 0, half_open: 1, open: 2 }
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

/** A gauge labelled by model whose value is read from `watched` at every scrape. */
function scrapedPerModel<T>(registry: Registry, name: string, help: string, watched: ReadonlyMap<string, T>, value: (item: T) => number): void {
  new Gauge({
    name,
    help,
    labelNames: ['model'] as const,
    registers: [registry],
    collect() {
      for (const [model, item] of watched) this.set({ model }, value(item))
    },
  })
}

export class UpstreamMetrics {
  private readonly duration: Histogram<'model'>
  private readonly failures: Counter<'model' | 'kind'>
  private readonly opened: Counter<'model'>
  private readonly health = new Map<string, UpstreamHealth>()
  private readonly inFlight = new Map<string, { readonly active: number }>()

  constructor(registry: Registry) {
    const registers = [registry]
    this.duration = new Histogram({
      name: 'infergate_upstream_request_duration_seconds',
      help: "Duration of one call to a remote model's server, answered or not",
      labelNames: ['model'] as const,
      buckets: BUCKETS,
      registers,
    })
    this.failures = new Counter({
      name: 'infergate_upstream_errors_total',
      help: "Failed calls to a remote model's server by kind: unreachable, dropped, timeout, status, invalid_answer, breaker_open (refused without a call), aborted (callers gone)",
      labelNames: ['model', 'kind'] as const,
      registers,
    })
    this.opened = new Counter({
      name: 'infergate_upstream_breaker_opened_total',
      help: "Times a remote model's circuit breaker opened",
      labelNames: ['model'] as const,
      registers,
    })
    scrapedPerModel(
      registry,
      'infergate_upstream_breaker_state',
      "A remote model's circuit breaker: 0 closed (calls go through), 1 half-open (probing), 2 open (calls refused)",
      this.health,
      (upstream) => STATE_VALUE[upstream.state()],
    )
    scrapedPerModel(
      registry,
      'infergate_llm_calls_in_flight',
      'Calls in flight to an LLM server from this instance (at most its --llm max-concurrency)',
      this.inFlight,
      (slots) => slots.active,
    )
  }

  /** Reports an LLM server's calls in flight (`llm/slots.ts`) at every scrape. */
  watchCalls(model: string, slots: { readonly active: number }): void {
    this.inFlight.set(model, slots)
  }

  /** Reports `model`'s breaker state at every scrape. */
  watch(model: string, upstream: UpstreamHealth): void {
    this.health.set(model, upstream)
  }

  call(model: string, seconds: number): void {
    this.duration.observe({ model }, seconds)
  }

  failure(model: string, kind: FailureKind): void {
    this.failures.inc({ model, kind })
  }

  breakerOpened(model: string): void {
    this.opened.inc({ model })
  }
}
