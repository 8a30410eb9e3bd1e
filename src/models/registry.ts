/**
 * The models this process serves, by name, each behind its own micro-batcher.
 */
import type { BatcherOptions, BatchObserver, SubmitOptions, Submission } from './batcher.js'
import { Batcher } from './batcher.js'
import type { Classification, ModelInfo, TextClassifier, UpstreamHealth } from './types.js'

/** A model as routes use it: its description and batched, cancellable classification. */
export interface ServedModel {
  readonly info: ModelInfo
  /** Units of the key's and owner's limits one text costs. */
  readonly cost: number
  /** Queues texts; the submission can be cancelled while its texts wait. */
  submit(texts: readonly string[], options?: SubmitOptions): Submission
  /** Shorthand for `submit(...).results`. */
  classify(texts: readonly string[], options?: SubmitOptions): Promise<Classification[]>
  /** Texts queued and not yet sent to the model. */
  queueDepth(): number
  /** For a model served by another server: whether that server answers now. */
  readonly upstream?: UpstreamHealth
}

/** How a model is served: its batching, who closes it, who watches its batches, what a text costs. */
export interface AddOptions {
  batching: BatcherOptions
  /** Whether closing the registry closes the model (false for models lent by tests); default true. */
  owned?: boolean
  observe?: BatchObserver | undefined
  /** Units per text; default 1. */
  cost?: number
}

interface Entry {
  served: ServedModel
  classifier: TextClassifier
  /** Whether closing the registry closes the model (false for models lent by tests). */
  owned: boolean
}

export class ModelRegistry {
  private readonly entries = new Map<string, Entry>()

  constructor(private defaultName?: string) {}

  /** Adds a model; the first one added is the default unless a default was named. */
  add(classifier: TextClassifier, options: AddOptions): void {
    const { batching, owned = true, observe, cost = 1 } = options
    const name = classifier.info.name
    if (this.entries.has(name)) throw new Error(`a model named "${name}" is already registered`)
    const lateError = classifier.lateError?.bind(classifier)
    const batcher = new Batcher((texts, signal) => classifier.classifyBatch(texts, signal), batching, { observe, ...(lateError && { lateError }) })
    const served: ServedModel = {
      info: classifier.info,
      cost,
      submit: (texts, options) => batcher.submit(texts, options),
      classify: (texts, options) => batcher.submit(texts, options).results,
      queueDepth: () => batcher.depth,
      ...(classifier.upstream && { upstream: classifier.upstream }),
    }
    this.entries.set(name, { served, classifier, owned })
    this.defaultName ??= name
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
