/**
 * Builds a remote model from its spec and probes its server once before the server starts
 * listening. A server that does not answer stops the start with one line naming the model and
 * the URL, unless the model is `optional=true`: then it is served as unavailable (503) until a
 * probe succeeds. A server that answers but not as configured (a wrong tensor name, other
 * labels) always stops the start: waiting would not fix it.
 */
import type { Logger } from 'pino'
import type { BatcherOptions } from '../batcher.js'
import { HfInferenceProtocol } from './hf-inference.js'
import { KserveV2Protocol, kserveOptions } from './kserve-v2.js'
import type { UpstreamMetrics } from './metrics.js'
import { RemoteModel } from './model.js'
import type { Protocol } from './protocol.js'
import { SeedProtocol } from './seed.js'
import type { RemoteModelSpec } from './spec.js'
import { UpstreamFailure } from './failure.js'
import { UpstreamClient } from './upstream.js'

export interface LoadRemoteOptions {
  /** Where `auth-env` is looked up; default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Longest one upstream call may take when the spec gives no `timeout`. */
  defaultTimeoutMs: number
  metrics?: UpstreamMetrics
  log?: Pick<Logger, 'info' | 'warn'>
}

/** Upstream calls in flight by default: one text per call needs more of them than batches do. */
const DEFAULT_CONCURRENCY = { perText: 16, perBatch: 4 }

function protocolOf(spec: RemoteModelSpec): Protocol {
  switch (spec.protocol) {
    case 'seed':
      return new SeedProtocol(spec.url)
    case 'kserve-v2':
      return new KserveV2Protocol(spec.url, kserveOptions(spec))
    case 'hf-inference':
      return new HfInferenceProtocol(spec.url, spec.server ?? 'tei', spec.labels)
  }
}

function concurrencyOf(spec: RemoteModelSpec): number {
  return spec.maxConcurrency ?? (spec.protocol === 'seed' ? DEFAULT_CONCURRENCY.perText : DEFAULT_CONCURRENCY.perBatch)
}

/** The batcher settings of a remote model: one text per call, or batches, several calls at once. */
export function remoteBatching(spec: RemoteModelSpec, defaults: BatcherOptions): BatcherOptions {
  return {
    maxBatch: spec.protocol === 'seed' ? 1 : (spec.maxBatch ?? defaults.maxBatch),
    maxWaitMs: spec.maxWaitMs ?? defaults.maxWaitMs,
    maxQueue: spec.maxQueue ?? defaults.maxQueue,
    concurrency: concurrencyOf(spec),
  }
}

/** The upstream credential `auth-env` names (also for `--llm`); throws when the variable is unset. */
export function credential(spec: Pick<RemoteModelSpec, 'auth'>, env: NodeJS.ProcessEnv): { header: string; value: string } | undefined {
  if (!spec.auth) return undefined
  const value = env[spec.auth.env]
  // The value itself is never shown: only the variable's name.
  if (value === undefined || value === '') throw new Error(`the environment variable ${spec.auth.env} (auth-env) is not set`)
  if (/[\r\n\0]/.test(value)) throw new Error(`the environment variable ${spec.auth.env} (auth-env) holds a line break`)
  return { header: spec.auth.header, value }
}

/** Builds and probes the model; throws an Error whose message names what is wrong. */
export async function loadRemoteModel(spec: RemoteModelSpec, options: LoadRemoteOptions): Promise<RemoteModel> {
  const auth = credential(spec, options.env ?? process.env)
  const client = new UpstreamClient(spec.url, {
    connections: concurrencyOf(spec),
    timeoutMs: spec.timeoutMs ?? options.defaultTimeoutMs,
    ...(auth && { auth }),
  })
  const protocol = protocolOf(spec)
  let down: UpstreamFailure | undefined
  try {
    await protocol.probe((request) => client.call(request))
  } catch (error) {
    if (!(error instanceof UpstreamFailure) || !spec.optional) {
      await client.close()
      const hint = error instanceof UpstreamFailure && mayComeBack(error) ? ' (add &optional=true to start without it)' : ''
      throw new Error(`${spec.url} (${spec.protocol}): ${describe(error)}${hint}`, { cause: error })
    }
    down = error
  }
  const model = new RemoteModel({ spec, protocol, client, ...(options.metrics && { metrics: options.metrics }), ...(options.log && { log: options.log }) })
  if (down) {
    options.log?.warn({ model: spec.name, upstream: client.origin, kind: down.kind }, `remote model "${spec.name}" is not answering (${down.message}): served as unavailable until it does`)
    model.startUnavailable()
  }
  return model
}

/** A server that is down or failing may come back by itself; one that refuses the credential will not. */
function mayComeBack(failure: UpstreamFailure): boolean {
  return failure.kind !== 'status' || (failure.status ?? 500) >= 500 || failure.status === 429
}

function describe(error: unknown): string {
  if (!(error instanceof UpstreamFailure)) return (error as Error).message
  if (error.kind === 'unreachable') return `unreachable: ${error.message}`
  if (error.kind === 'status') return `answered HTTP ${error.status}`
  if (error.kind === 'timeout') return 'no answer in time'
  return error.message
}
