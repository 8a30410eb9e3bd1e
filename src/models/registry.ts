/**
 * The models this process serves, by name, each behind its own micro-batcher.
 */
import type { BatcherOptions } from './batcher.js'
import { Batcher } from './batcher.js'
import type { Classification, ModelInfo, TextClassifier } from './types.js'

/** A model as routes use it: its description and a batched `classify`. */
export interface ServedModel {
  readonly info: ModelInfo
  classify(texts: readonly string[]): Promise<Classification[]>
  /** Texts queued and not yet sent to the model. */
  queueDepth(): number
}

/** Told about every model call, for metrics. */
export interface ModelObserver {
  batch(model: string, size: number, seconds: number): void
}

interface Entry {
  served: ServedModel
  classifier: TextClassifier
  /** Whether closing the registry closes the model (false for models lent by tests). */
  owned: boolean
}

export class ModelRegistry {
  private readonly entries = new Map<string, Entry>()
  /** Sees every batch of every model (set by the services for metrics). */
  observer: ModelObserver | undefined

  constructor(private defaultName?: string) {}

  /** Adds a model; the first one added is the default unless a default was named. */
  add(classifier: TextClassifier, batching: BatcherOptions, owned = true): void {
    const name = classifier.info.name
    if (this.entries.has(name)) throw new Error(`a model named "${name}" is already registered`)
    const batcher = new Batcher((texts) => this.run(name, classifier, texts), batching)
    const served: ServedModel = {
      info: classifier.info,
      classify: (texts) => batcher.submit(texts),
      queueDepth: () => batcher.depth,
    }
    this.entries.set(name, { served, classifier, owned })
    this.defaultName ??= name
  }

  private async run(name: string, classifier: TextClassifier, texts: string[]): Promise<Classification[]> {
    const observer = this.observer
    if (!observer) return classifier.classifyBatch(texts)
    const started = performance.now()
    try {
      return await classifier.classifyBatch(texts)
    } finally {
      observer.batch(name, texts.length, (performance.now() - started) / 1000)
    }
  }

  get(name: string): ServedModel | undefined {
    return this.entries.get(name)?.served
  }

  /** The model `/predict` uses. */
  get default(): ServedModel {
    const entry = this.defaultName === undefined ? undefined : this.entries.get(this.defaultName)
    if (!entry) throw new Error(`the default model "${this.defaultName ?? ''}" is not loaded`)
    return entry.served
  }

  list(): ModelInfo[] {
    return [...this.entries.values()].map((entry) => entry.served.info)
  }

  get size(): number {
    return this.entries.size
  }

  async close(): Promise<void> {
    for (const entry of this.entries.values()) if (entry.owned) await entry.classifier.close()
    this.entries.clear()
  }
}
