/** From a model's logits to what clients see: probabilities per label and the winner. */
import type { Classification } from './types.js'

/** Softmax of one row of logits, computed stably in float64. */
export function softmax(logits: ArrayLike<number>, offset: number, count: number): number[] {
  let max = -Infinity
  for (let i = 0; i < count; i++) max = Math.max(max, logits[offset + i]!)
  const exps = new Array<number>(count)
  let sum = 0
  for (let i = 0; i < count; i++) {
    exps[i] = Math.exp(logits[offset + i]! - max)
    sum += exps[i]!
  }
  return exps.map((e) => e / sum)
}

/** The logistic function of each logit of one row: independent per-label probabilities. */
export function sigmoid(logits: ArrayLike<number>, offset: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => 1 / (1 + Math.exp(-logits[offset + i]!)))
}

/** Probabilities (in label order) → the answer for one text. */
export function toClassification(probabilities: readonly number[], labels: readonly string[]): Classification {
  let best = 0
  for (let i = 1; i < probabilities.length; i++) if (probabilities[i]! > probabilities[best]!) best = i
  const scores: Record<string, number> = {}
  labels.forEach((label, i) => (scores[label] = probabilities[i]!))
  return { label: labels[best]!, confidence: probabilities[best]!, scores }
}

/**
 * Every row of a [rows, labels] logits tensor as an answer: a softmax over the labels, or with
 * `multiLabel` a sigmoid per label.
 */
export function classifyLogits(logits: ArrayLike<number>, rows: number, labels: readonly string[], multiLabel = false): Classification[] {
  const probabilities = multiLabel ? sigmoid : softmax
  return Array.from({ length: rows }, (_, row) => toClassification(probabilities(logits, row * labels.length, labels.length), labels))
}
