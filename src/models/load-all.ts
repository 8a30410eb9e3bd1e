/**
 * Loads every model this process serves: the built-in sentiment model (or models lent by a
 * test) and each `--model NAME=PATH` folder, each behind a batcher of its own. Any failure
 * becomes a ConfigError, so the server stops at start (exit 2) naming the model and the file.
 */
import type { Config } from '../config.js'
import { ConfigError } from '../config.js'
import { loadBuiltinModel } from './builtin/load.js'
import { loadHfModel } from './hf/load.js'
import { ModelRegistry } from './registry.js'
import type { ModelSpec } from './spec.js'
import type { BatchObserver } from './batcher.js'
import type { TextClassifier } from './types.js'

export interface LoadModelsOptions {
  /** Models to serve instead of the built-in one; the caller keeps ownership. */
  lent?: TextClassifier[]
  observe?: (model: string) => BatchObserver
}

function batching(config: Config, spec?: ModelSpec) {
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
    if (options.lent) for (const model of options.lent) registry.add(model, batching(config), false, observe(model.info.name))
    else registry.add(await loadOrExplain(() => loadBuiltinModel(config.modelDir), `the built-in model (--model-dir ${config.modelDir})`), batching(config), true, observe('sentiment'))
    for (const spec of config.models) {
      const model = await loadOrExplain(() => loadHfModel(spec.path, { name: spec.name }), `model "${spec.name}"`)
      registry.add(model, batching(config, spec), true, observe(spec.name))
    }
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

async function loadOrExplain(load: () => Promise<TextClassifier>, what: string): Promise<TextClassifier> {
  try {
    return await load()
  } catch (error) {
    throw new ConfigError(`cannot load ${what}: ${(error as Error).message}`)
  }
}
