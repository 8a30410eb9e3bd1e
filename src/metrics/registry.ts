/**
 * The Prometheus metrics of one app, in a registry of its own (never prom-client's global
 * default: tests build many apps in one process). Request-path updates go through cached
 * label children so that counting costs a map lookup, not a label hash.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { IntervalHistogram } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { AuditObserver } from '../audit/writer.js'

/** Told about every model call. */
export interface ModelObserver {
  batch(model: string, size: number, seconds: number): void
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

/** Where gauges read their values at scrape time. */
export interface MetricSources {
  /** Texts waiting per model. */
  queueDepths?: () => Iterable<[model: string, depth: number]>
  keyCache?: () => { hits: number; misses: number }
  audit?: () => { depth: number; capacity: number }
}

export class AppMetrics {
  readonly registry = new Registry()
  private readonly requests = new Counter({
    name: 'infergate_http_requests_total',
    help: 'Answered requests by method, route, status and outcome',
    labelNames: ['method', 'route', 'status', 'outcome'] as const,
    registers: [this.registry],
  })
  private readonly duration = new Histogram({
    name: 'infergate_http_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer',
    labelNames: ['method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  private readonly rateLimited = new Counter({
    name: 'infergate_rate_limited_total',
    help: 'Requests refused with 429: over the key limit, or from an address with too many failed authentications',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })
  private readonly inference = new Histogram({
    name: 'infergate_model_inference_seconds',
    help: 'Duration of one model call (one batch)',
    labelNames: ['model'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  private readonly batchSize = new Histogram({
    name: 'infergate_model_batch_size',
    help: 'Texts per model call',
    labelNames: ['model'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  })
  private readonly auditWrite = new Histogram({
    name: 'infergate_audit_write_seconds',
    help: 'Duration of one audit batch transaction',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  })
  private readonly auditWritten = new Counter({
    name: 'infergate_audit_records_written_total',
    help: 'Audit records written',
    registers: [this.registry],
  })
  private readonly auditFailures = new Counter({
    name: 'infergate_audit_write_failures_total',
    help: 'Audit batches that could not be written (kept and retried)',
    registers: [this.registry],
  })
  private readonly auditRefused = new Counter({
    name: 'infergate_audit_refused_total',
    help: 'Requests refused with 503 because the audit buffer was full',
    registers: [this.registry],
  })
  private readonly webhookAttempts = new Counter({
    name: 'infergate_webhook_attempts_total',
    help: 'Webhook delivery attempts by outcome: delivered, retry (failed, will retry), failed (given up)',
    labelNames: ['outcome'],
    registers: [this.registry],
  })
  private readonly children = new Map<string, { inc(): void }>()
  private readonly durations = new Map<string, { observe(value: number): void }>()
  private readonly loopDelay: IntervalHistogram
  private sources: MetricSources = {}

  constructor() {
    this.loopDelay = monitorEventLoopDelay({ resolution: 10 })
    this.loopDelay.enable()
    this.addGauges()
  }

  /** Names where the gauges read their values (services are built after the metrics). */
  watch(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources }
  }

  /** Counts one answered request and its latency. */
  request(method: string, route: string, status: number, outcome: string, seconds: number, rateLimitReason?: string): void {
    const key = `${method} ${route} ${status} ${outcome}`
    let child = this.children.get(key)
    if (!child) {
      child = this.requests.labels(method, route, String(status), outcome)
      this.children.set(key, child)
    }
    child.inc()
    const routeKey = `${method} ${route}`
    let histogram = this.durations.get(routeKey)
    if (!histogram) {
      histogram = this.duration.labels(method, route)
      this.durations.set(routeKey, histogram)
    }
    histogram.observe(seconds)
    if (rateLimitReason !== undefined) this.rateLimited.inc({ reason: rateLimitReason })
  }

  /** For the model registry: every batch's size and duration. */
  readonly modelObserver: ModelObserver = {
    batch: (model, size, seconds) => {
      this.batchSize.observe({ model }, size)
      this.inference.observe({ model }, seconds)
    },
  }

  /** The same per model, in the shape of a batcher's `(batchSize, durationMs)` callback. */
  batchObserver(model: string): (batchSize: number, durationMs: number) => void {
    return (batchSize, durationMs) => this.modelObserver.batch(model, batchSize, durationMs / 1000)
  }

  /** Counts one webhook delivery attempt. */
  webhookAttempt(outcome: 'delivered' | 'retry' | 'failed'): void {
    this.webhookAttempts.inc({ outcome })
  }

  /** For the audit writer: batch durations, failures and refusals. */
  readonly auditObserver: AuditObserver = {
    written: (records, seconds) => {
      this.auditWritten.inc(records)
      this.auditWrite.observe(seconds)
    },
    failed: () => this.auditFailures.inc(),
    refused: () => this.auditRefused.inc(),
  }

  private addGauges(): void {
    const registers = [this.registry]
    const queueDepths = () => this.sources.queueDepths?.() ?? []
    const keyCache = () => this.sources.keyCache?.() ?? { hits: 0, misses: 0 }
    const audit = () => this.sources.audit?.() ?? { depth: 0, capacity: 0 }
    new Gauge({
      name: 'infergate_model_queue_depth',
      help: 'Texts waiting for a model call',
      labelNames: ['model'] as const,
      registers,
      collect() {
        for (const [model, depth] of queueDepths()) this.set({ model }, depth)
      },
    })
    new Gauge({
      name: 'infergate_key_cache_hit_ratio',
      help: 'Share of key verifications answered from the in-memory cache since start',
      registers,
      collect() {
        const { hits, misses } = keyCache()
        this.set(hits + misses === 0 ? 0 : hits / (hits + misses))
      },
    })
    for (const kind of ['hits', 'misses'] as const) {
      new Counter({
        name: `infergate_key_cache_${kind}_total`,
        help: `Key verifications ${kind === 'hits' ? 'answered from the cache' : 'that went to the store'}`,
        registers,
        collect() {
          this.reset()
          this.inc(keyCache()[kind])
        },
      })
    }
    new Gauge({
      name: 'infergate_audit_buffer_depth',
      help: 'Audit records waiting to be written',
      registers,
      collect() {
        this.set(audit().depth)
      },
    })
    new Gauge({
      name: 'infergate_audit_buffer_capacity',
      help: 'Audit records that may wait before requests are refused (0: audit off)',
      registers,
      collect() {
        this.set(audit().capacity)
      },
    })
    const loop = this.loopDelay
    new Gauge({
      name: 'infergate_event_loop_lag_seconds',
      help: 'Event-loop delay since the previous scrape',
      labelNames: ['stat'] as const,
      registers,
      collect() {
        const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0)
        this.set({ stat: 'mean' }, seconds(loop.mean))
        this.set({ stat: 'p50' }, seconds(loop.percentile(50)))
        this.set({ stat: 'p99' }, seconds(loop.percentile(99)))
        this.set({ stat: 'max' }, seconds(loop.max))
        loop.reset()
      },
    })
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }

  close(): void {
    this.loopDelay.disable()
  }
}
