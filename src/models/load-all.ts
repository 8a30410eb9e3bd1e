/**
 * Loads every model this process serves: the built-in sentiment model (or models lent by a
 * test), each `--model NAME=PATH` folder and each `--model NAME=URL?protocol=P` remote model,
 * each behind a batcher of its own. Any failure becomes a ConfigError, so the server stops at
 * start (exit 2) naming the model and the file or URL.
 */
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { ConfigError } from '../config.js'
import { loadBuiltinModel } from './builtin/load.js'
import { loadHfModel } from './hf/load.js'
import { ModelRegistry } from './registry.js'
import type { FolderModelSpec, ModelSpec } from './spec.js'
import { isRemoteSpec } from './spec.js'
import type { BatcherOptions, BatchObserver } from './batcher.js'
import type { TextClassifier } from './types.js'
import type { LoadRemoteOptions } from './remote/load.js'
import { loadRemoteModel, remoteBatching } from './remote/load.js'
import type { UpstreamMetrics } from './remote/metrics.js'

export interface LoadModelsOptions {
  /** Models to serve instead of the built-in one; the caller keeps ownership. */
  lent?: TextClassifier[]
  observe?: (model: string) => BatchObserver
  /** Where remote models report their upstream metrics. */
  metrics?: UpstreamMetrics
  /** Where remote models log their upstream failures and breaker changes. */
  log?: Pick<Logger, 'info' | 'warn'>
  /** Where remote models' `auth-env` credentials are read; default `process.env`. */
  env?: NodeJS.ProcessEnv
}

function batching(config: Config, spec?: FolderModelSpec): BatcherOptions {
  return {
    maxBatch: spec?.maxBatch ?? config.maxBatch,
    maxWaitMs: spec?.maxWaitMs ?? config.maxWaitMs,
    maxQueue: spec?.maxQueue ?? config.maxQueue,
  }
}

export async function loadModels(config: Config, options: LoadModelsOptions = {}): Promise<ModelRegistry> {
  const registry = new ModelRegistry(config.defaultModel)
  const observe = (name: string) => options.observe?.(name)
  try {
    // Lent models (tests) stand in for the built-in one, at its cost.
    const cost = config.builtinModelCost
    if (options.lent) for (const model of options.lent) registry.add(model, { batching: batching(config), owned: false, observe: observe(model.info.name), cost })
    else {
      const builtin = await loadOrExplain(() => loadBuiltinModel(config.modelDir), `the built-in model (--model-dir ${config.modelDir})`)
      registry.add(builtin, { batching: batching(config), observe: observe('sentiment'), cost })
    }
    const remote: LoadRemoteOptions = {
      defaultTimeoutMs: config.predictTimeoutMs,
      ...(options.metrics && { metrics: options.metrics }),
      ...(options.log && { log: options.log }),
      ...(options.env && { env: options.env }),
    }
    for (const spec of config.models) await addModel(registry, spec, config, options, remote)
    if (!registry.get(config.defaultModel)) {
      throw new ConfigError(`--default-model ${config.defaultModel}: no such model (loaded: ${registry.list().map((m) => m.name).join(', ')})`)
    }
  } catch (error) {
    await registry.close()
    if (error instanceof ConfigError) throw error
    throw new ConfigError((error as Error).message)
  }
  return registry
}

async function addModel(registry: ModelRegistry, spec: ModelSpec, config: Config, options: LoadModelsOptions, remote: LoadRemoteOptions): Promise<void> {
  const observe = options.observe?.(spec.name)
  if (!isRemoteSpec(spec)) {
    const model = await loadOrExplain(() => loadHfModel(spec.path, { name: spec.name }), `model "${spec.name}"`)
    registry.add(model, { batching: batching(config, spec), observe, ...(spec.cost !== undefined && { cost: spec.cost }) })
    return
  }
  const model = await loadOrExplain(() => loadRemoteModel(spec, remote), `model "${spec.name}"`)
  registry.add(model, { batching: remoteBatching(spec, batching(config)), observe, ...(spec.cost !== undefined && { cost: spec.cost }) })
}

async function loadOrExplain(load: () => Promise<TextClassifier>, what: string): Promise<TextClassifier> {
  try {
    return await load()
  } catch (error) {
    throw new ConfigError(`cannot load ${what}: ${(error as Error).message}`)
  }
}
