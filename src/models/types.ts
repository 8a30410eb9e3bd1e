/** What every served model is to the rest of infergate: a batch text classifier. */

export interface ModelInfo {
  /** The name clients use, e.g. `sentiment`. */
  name: string
  task: 'text-classification'
  /** Output labels in the order of the model's logits. */
  labels: string[]
  /** Where the model came from: `builtin`, the folder it was loaded from, or its server's URL. */
  source: string
  /** For a model served by another server: the wire protocol infergate speaks to it. */
  protocol?: 'seed' | 'kserve-v2' | 'hf-inference'
  /** Longest input the model reads, in tokens, when it has such a limit. */
  maxLength?: number
  /**
   * True for a multi-label model (`problem_type: multi_label_classification`): each score is the
   * label's own probability (a sigmoid), so they need not sum to 1; `label` is the likeliest.
   */
  multiLabel?: boolean
  description?: string
}

export interface Classification {
  /** The most probable label. */
  label: string
  /** Probability of `label`, from 0 to 1. */
  confidence: number
  /** Probability of every label. */
  scores: Record<string, number>
}

/** A remote model's server as seen through its circuit breaker. */
export type UpstreamState = 'closed' | 'open' | 'half_open'

export interface UpstreamHealth {
  /** `closed`: calls go through; `open`: refused at once until a probe succeeds; `half_open`: a probe is under way. */
  state(): UpstreamState
  /** Milliseconds until calls may go through again (0 while closed). */
  retryAfterMs(): number
}

export interface TextClassifier {
  readonly info: ModelInfo
  /**
   * Classifies texts in one model call; result `i` belongs to `texts[i]`. `signal` aborts when
   * every caller waiting for the call has given up (a local model may ignore it).
   */
  classifyBatch(texts: readonly string[], signal?: AbortSignal): Promise<Classification[]>
  /** The error for a caller whose deadline passes while this model computes (default 504 `prediction_timeout`). */
  lateError?(): Error
  /** Present for models served by another server. */
  readonly upstream?: UpstreamHealth
  close(): Promise<void>
}
