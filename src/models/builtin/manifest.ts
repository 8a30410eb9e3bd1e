/**
 * `manifest.json` of a built-in model folder: what the model is, how to featurise text for it,
 * the ONNX contract, how it was trained and how it scored. Written by `export.ts`, read and
 * validated by `load.ts`.
 */
import { ModelLoadError } from '../load-error.js'
import type { FeatureSpec } from './features.js'

export const MANIFEST_FILE = 'manifest.json'
export const MODEL_FILE = 'model.onnx'
export const VOCABULARY_FILE = 'vocabulary.txt'
export const MANIFEST_FORMAT = 'infergate-builtin-text-classifier/1'

/** A named ONNX input or output. */
export interface TensorContract {
  name: string
  type: 'int64' | 'float32'
  shape: (number | string)[]
  description: string
}

/** Accuracy and calibration of the exported model on a labelled file. */
export interface EvaluationSummary {
  file: string
  sha256: string
  examples: number
  accuracy: number
  /** Expected calibration error, 15 equal-width bins over the max probability. */
  ece: number
  /** How the numbers were produced. */
  measuredWith: string
}

export interface BuiltinManifest {
  format: typeof MANIFEST_FORMAT
  name: string
  task: 'text-classification'
  description: string
  labels: string[]
  tokenizer: Record<string, unknown>
  features: FeatureSpec & { padRow: number; testVectors: Record<string, string> }
  onnx: { file: string; opset: number; bytes: number; sha256: string; inputs: TensorContract[]; outputs: TensorContract[] }
  architecture: Record<string, unknown>
  hyperParameters: Record<string, unknown>
  training: Record<string, unknown>
  /** The pretrained vocabulary file (one word per line; line i = pretrained row i), when `features.pretrainedWords` > 0. */
  vocabulary?: { file: string; words: number; sha256: string; vectors: Record<string, unknown> }
  /** Dev-set scores of the exported model, when a dev file was given. */
  evaluation: EvaluationSummary | null
  /** Scores on the project's negation and contrast challenge set (test/fixtures/challenge.tsv), when it was found. */
  challenge?: EvaluationSummary | null
}

/**
 * Checks the fields `load.ts` relies on and returns the manifest typed; throws a
 * {@link ModelLoadError} naming `file` and the first problem found.
 */
export function validateManifest(value: unknown, file: string): BuiltinManifest {
  const fail = (what: string): never => {
    throw new ModelLoadError(file, what)
  }
  if (typeof value !== 'object' || value === null) return fail('not a JSON object')
  const m = value as Partial<BuiltinManifest>
  if (m.format !== MANIFEST_FORMAT) fail(`"format" must be "${MANIFEST_FORMAT}", got ${JSON.stringify(m.format)}`)
  if (typeof m.name !== 'string' || m.name === '') fail('"name" must be a non-empty string')
  if (!Array.isArray(m.labels) || m.labels.length < 2 || !m.labels.every((l) => typeof l === 'string')) {
    fail('"labels" must list at least two label names')
  }
  const f = m.features
  if (typeof f !== 'object' || f === null) return fail('"features" is missing')
  for (const key of ['wordBuckets', 'subwordBuckets', 'bigramBuckets', 'subwordMinN', 'subwordMaxN', 'maxSlots', 'padRow'] as const) {
    if (!Number.isInteger(f[key]) || f[key] < 0) fail(`"features.${key}" must be a non-negative integer`)
  }
  const words = f.pretrainedWords ?? 0
  if (!Number.isInteger(words) || words < 0) fail('"features.pretrainedWords" must be a non-negative integer')
  if (words > 0 && (typeof m.vocabulary?.file !== 'string' || m.vocabulary.words !== words)) {
    fail(`"vocabulary" must name the file of the ${words} pretrained words`)
  }
  const window = f.negation?.window
  if (window !== undefined && (!Number.isInteger(window) || window < 1)) fail('"features.negation.window" must be a positive integer')
  if (f.hash !== 'fnv1a-32') fail(`"features.hash" must be "fnv1a-32", got ${JSON.stringify(f.hash)}`)
  if (typeof m.onnx !== 'object' || m.onnx === null || !Array.isArray(m.onnx.inputs) || !Array.isArray(m.onnx.outputs)) {
    fail('"onnx" must describe the model inputs and outputs')
  }
  return m as BuiltinManifest
}
