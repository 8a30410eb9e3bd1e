/**
 * The registered OpenAI-compatible upstreams (`--llm`), each with its own connection pool
 * (undici), its credential read once at start from the variable `auth-env` names, and its
 * tokenizer, and its circuit breaker (`health.ts`). Only the headers built here go upstream:
 * the caller's headers — its infergate key above all — are never forwarded.
 */
import { Agent, request } from 'undici'
import type { Dispatcher } from 'undici'
import { AppError, ErrorCode } from '../errors.js'
import type { Logger } from 'pino'
import { credential } from '../models/remote/load.js'
import type { UpstreamMetrics } from '../models/remote/metrics.js'
import { LlmHealth } from './health.js'
import { LlmSlots } from './slots.js'
import type { LlmSpec } from './spec.js'
import type { TextCounter } from './tokens.js'
import { textCounter } from './tokens.js'

/** The OpenAI endpoints infergate relays. */
export type LlmEndpoint = 'chat/completions' | 'completions' | 'embeddings'

export interface LlmUpstream {
  readonly spec: LlmSpec
  readonly count: TextCounter
  /** Its circuit breaker: check before a call, tell it how each call went. */
  readonly health: LlmHealth
  /** Calls in flight to it from this instance, in all and per key (`slots.ts`). */
  readonly slots: LlmSlots
  /** Sends `body` as JSON to the endpoint; the answer's body must be consumed or destroyed. */
  call(endpoint: LlmEndpoint, body: unknown, signal: AbortSignal): Promise<Dispatcher.ResponseData>
}

export interface LlmRegistryOptions {
  /** Where `auth-env` is looked up; default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Longest wait for the upstream's headers, and between two chunks of its body. */
  timeoutMs: number
  /** Where the breakers report their state and the calls' failures. */
  metrics?: UpstreamMetrics
  log?: Pick<Logger, 'info' | 'warn'>
}

/** The breaker's probe: `GET {baseUrl}/models`, which every OpenAI-compatible server answers. */
async function probeModels(url: string, headers: Record<string, string>, agent: Agent): Promise<void> {
  const response = await request(url, { method: 'GET', headers, dispatcher: agent })
  await response.body.dump()
  if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`GET /models answered ${response.statusCode}`)
}

export class LlmRegistry {
  private constructor(
    private readonly upstreams: Map<string, LlmUpstream>,
    private readonly agent: Agent,
  ) {}

  /** Builds the upstreams; throws (a readable message) when a credential's variable is unset. */
  static async create(specs: readonly LlmSpec[], options: LlmRegistryOptions): Promise<LlmRegistry> {
    const agent = new Agent({ headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connections: 256 })
    const upstreams = new Map<string, LlmUpstream>()
    for (const spec of specs) {
      let auth: { header: string; value: string } | undefined
      try {
        auth = credential(spec, options.env ?? process.env)
      } catch (error) {
        throw new Error(`--llm ${spec.name}: ${(error as Error).message}`, { cause: error })
      }
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
      if (auth) headers[auth.header.toLowerCase()] = auth.value
      const count = await textCounter(spec.tokenizer)
      const { 'content-type': _json, ...probeHeaders } = headers
      const health = new LlmHealth({
        name: spec.name,
        origin: new URL(spec.baseUrl).origin,
        settings: spec,
        probe: () => probeModels(`${spec.baseUrl}/models`, probeHeaders, agent),
        ...(options.metrics && { metrics: options.metrics }),
        ...(options.log && { log: options.log }),
      })
      const slots = new LlmSlots(spec.maxConcurrency, spec.keyConcurrency)
      options.metrics?.watchCalls(spec.name, slots)
      upstreams.set(spec.name, {
        spec,
        count,
        health,
        slots,
        call: (endpoint, body, signal) =>
          request(`${spec.baseUrl}/${endpoint}`, { method: 'POST', headers, body: JSON.stringify(body), signal, dispatcher: agent }),
      })
    }
    return new LlmRegistry(upstreams, agent)
  }

  get(name: string): LlmUpstream | undefined {
    return this.upstreams.get(name)
  }

  /** The upstream a request's `model` names (404 `model_not_found` otherwise). */
  resolve(name: string): LlmUpstream {
    const upstream = this.upstreams.get(name)
    if (!upstream) throw new AppError(ErrorCode.ModelNotFound, `No model named '${name}'`)
    return upstream
  }

  names(): string[] {
    return [...this.upstreams.keys()]
  }

  close(): Promise<void> {
    for (const upstream of this.upstreams.values()) upstream.health.stop()
    return this.agent.close()
  }
}
