/**
 * Measures a text classifier on labelled examples: accuracy, per-class precision/recall/F1,
 * confusion matrix, mean latency per text and expected calibration error.
 */
import type { LabelledExample } from './dataset.js'
import type { TextClassifier } from '../models/types.js'

/** Precision, recall and F1 of one class, each from 0 to 1. */
interface ClassMetrics {
  label: string
  precision: number
  recall: number
  f1: number
  /** Number of examples whose true label is this class. */
  support: number
}

/** The result of {@link evaluate}. */
export interface EvaluationReport {
  examples: number
  /** Share of correct predictions, from 0 to 1. */
  accuracy: number
  perClass: ClassMetrics[]
  /** `confusion[actual][predicted]`, indexed like `labels`. */
  confusion: number[][]
  labels: string[]
  /** Wall time of the model calls divided by the number of texts, in microseconds. */
  meanLatencyMicros: number
  /** Median over the calls of (call time / texts in the call), in microseconds. */
  medianLatencyMicros: number
  /** Expected calibration error over 15 equal-width confidence bins. */
  ece: number
  batchSize: number
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Texts per `classifyBatch` call (default 64). */
  batchSize?: number
  /** Called after every batch with the number of examples done so far and the total. */
  onProgress?: (done: number, total: number) => void
}

/** Number of bins used by {@link expectedCalibrationError} unless told otherwise. */
const ECE_BINS = 15

/**
 * Runs `classifier` over `examples` in batches and scores its predictions. Example labels are
 * indices into `classifier.info.labels`.
 */
export async function evaluate(
  classifier: TextClassifier,
  examples: readonly LabelledExample[],
  options: EvaluateOptions = {},
): Promise<EvaluationReport> {
  const batchSize = options.batchSize ?? 64
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a positive integer, got ${batchSize}`)
  const labels = classifier.info.labels
  const predicted: number[] = []
  const confidences: number[] = []
  let elapsedNs = 0n
  const perText: number[] = []
  for (let start = 0; start < examples.length; start += batchSize) {
    const texts = examples.slice(start, start + batchSize).map((e) => e.text)
    const begin = process.hrtime.bigint()
    const results = await classifier.classifyBatch(texts)
    const took = process.hrtime.bigint() - begin
    elapsedNs += took
    perText.push(Number(took) / 1000 / texts.length)
    for (const result of results) {
      predicted.push(labels.indexOf(result.label))
      confidences.push(result.confidence)
    }
    options.onProgress?.(Math.min(start + batchSize, examples.length), examples.length)
  }
  const actual = examples.map((e) => e.label)
  const correct = actual.map((label, i) => label === predicted[i])
  const confusion = confusionMatrix(actual, predicted, labels.length)
  return {
    examples: examples.length,
    accuracy: correct.filter(Boolean).length / Math.max(1, examples.length),
    perClass: labels.map((label, k) => classMetrics(confusion, label, k)),
    confusion,
    labels: [...labels],
    meanLatencyMicros: Number(elapsedNs) / 1000 / Math.max(1, examples.length),
    medianLatencyMicros: median(perText),
    ece: expectedCalibrationError(confidences, correct),
    batchSize,
  }
}

/**
 * Expected calibration error: confidences are put in `bins` equal-width bins over [0, 1]
 * (bin `b` holds (b/bins, (b+1)/bins], a confidence of 0 goes to bin 0), and the result is
 * the sum over bins of |bin accuracy - bin mean confidence| weighted by the bin's share.
 */
export function expectedCalibrationError(confidences: readonly number[], correct: readonly boolean[], bins = ECE_BINS): number {
  const count = new Float64Array(bins)
  const hits = new Float64Array(bins)
  const confSum = new Float64Array(bins)
  confidences.forEach((confidence, i) => {
    const bin = Math.min(bins - 1, Math.max(0, Math.ceil(confidence * bins) - 1))
    count[bin]! += 1
    confSum[bin]! += confidence
    if (correct[i]) hits[bin]! += 1
  })
  let ece = 0
  for (let b = 0; b < bins; b++) {
    if (count[b]! > 0) ece += Math.abs(hits[b]! - confSum[b]!) / confidences.length
  }
  return ece
}

function median(values: number[]): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function confusionMatrix(actual: readonly number[], predicted: readonly number[], classes: number): number[][] {
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
  actual.forEach((label, i) => {
    const row = matrix[label]
    const column = predicted[i]!
    if (row !== undefined && column >= 0 && column < classes) row[column]! += 1
  })
  return matrix
}

function classMetrics(confusion: number[][], label: string, k: number): ClassMetrics {
  const truePositives = confusion[k]![k]!
  const support = confusion[k]!.reduce((a, b) => a + b, 0)
  const predictedCount = confusion.reduce((sum, row) => sum + row[k]!, 0)
  const precision = predictedCount === 0 ? 0 : truePositives / predictedCount
  const recall = support === 0 ? 0 : truePositives / support
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall)
  return { label, precision, recall, f1, support }
}
