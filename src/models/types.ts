/** What every served model is to the rest of infergate: a batch text classifier. */

export interface ModelInfo {
  /** The name clients use, e.g. `sentiment`. */
  name: string
  task: 'text-classification'
  /** Output labels in the order of the model's logits. */
  labels: string[]
  /** Where the model came from: `builtin` or the folder it was loaded from. */
  source: string
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

export interface TextClassifier {
  readonly info: ModelInfo
  /** Classifies texts in one model call; result `i` belongs to `texts[i]`. */
  classifyBatch(texts: readonly string[]): Promise<Classification[]>
  close(): Promise<void>
}
