/**
 * What infergate reads from a Hugging Face text-classification export (`optimum-cli export
 * onnx --task text-classification`): labels from `config.json`, the longest input from
 * `tokenizer_config.json` or `config.json`, and the padding token.
 */
import path from 'node:path'
import { ModelLoadError, readJsonFile } from '../load-error.js'

export interface HfModelConfig {
  /** Labels in the order of the logits. */
  labels: string[]
  /** `problem_type` is `multi_label_classification`: sigmoid per label instead of a softmax. */
  multiLabel: boolean
  maxLength: number
  padTokenId: number
  tokenizer: Record<string, unknown>
  tokenizerConfig: Record<string, unknown>
}

const DEFAULT_MAX_LENGTH = 512
// Exports write this sentinel when the tokenizer has no limit of its own.
const UNLIMITED = 1e15

/** `{"0": "NEGATIVE", "1": "POSITIVE"}` → `["NEGATIVE", "POSITIVE"]`, checking ids are 0..n-1. */
function labelsFrom(config: Record<string, unknown>, file: string): string[] {
  const id2label = config.id2label
  if (typeof id2label !== 'object' || id2label === null || Array.isArray(id2label)) {
    throw new ModelLoadError(file, 'no "id2label" object mapping class ids to labels')
  }
  const entries = Object.entries(id2label as Record<string, unknown>)
  if (entries.length < 2) throw new ModelLoadError(file, '"id2label" needs at least two labels')
  const labels: string[] = []
  for (const [id, label] of entries) {
    const index = Number(id)
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || typeof label !== 'string' || label === '') {
      throw new ModelLoadError(file, `"id2label" must map the ids 0..${entries.length - 1} to label names; found "${id}": ${JSON.stringify(label)}`)
    }
    labels[index] = label
  }
  if (new Set(labels).size !== labels.length) throw new ModelLoadError(file, '"id2label" repeats a label')
  return labels
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < UNLIMITED ? value : undefined
}

function padId(tokenizer: Record<string, unknown>): number | undefined {
  const padding = tokenizer.padding as { pad_id?: unknown } | null | undefined
  return typeof padding?.pad_id === 'number' ? padding.pad_id : undefined
}

/**
 * The longest input: the tokenizer's `model_max_length`, but never more than the model's
 * `max_position_embeddings` when both are given (a tokenizer that claims more than the model has
 * positions for would make every long text fail); 512 when neither is.
 */
function maxLengthOf(tokenizerConfig: Record<string, unknown>, config: Record<string, unknown>): number {
  const limits = [positiveInteger(tokenizerConfig.model_max_length), positiveInteger(config.max_position_embeddings)].filter((n) => n !== undefined)
  return limits.length > 0 ? Math.min(...limits) : DEFAULT_MAX_LENGTH
}

const PROBLEM_TYPES = ['single_label_classification', 'multi_label_classification']

/** From `problem_type`; absent means single-label, as in `transformers`. A regression model is refused. */
function isMultiLabel(config: Record<string, unknown>, file: string): boolean {
  const problem = config.problem_type
  if (problem === undefined || problem === null) return false
  if (typeof problem !== 'string' || !PROBLEM_TYPES.includes(problem)) {
    throw new ModelLoadError(file, `problem_type ${JSON.stringify(problem)} is not a classification: only ${PROBLEM_TYPES.join(' and ')} models are served`)
  }
  return problem === 'multi_label_classification'
}

export async function readHfConfig(dir: string): Promise<HfModelConfig> {
  const configFile = path.join(dir, 'config.json')
  const config = (await readJsonFile(dir, 'config.json'))!
  const tokenizer = (await readJsonFile(dir, 'tokenizer.json'))!
  if (typeof tokenizer.model !== 'object' || tokenizer.model === null) {
    throw new ModelLoadError(path.join(dir, 'tokenizer.json'), 'no "model" section: not a Hugging Face tokenizers file')
  }
  const tokenizerConfig = (await readJsonFile(dir, 'tokenizer_config.json', false)) ?? {}
  return {
    multiLabel: isMultiLabel(config, configFile),
    labels: labelsFrom(config, configFile),
    maxLength: maxLengthOf(tokenizerConfig, config),
    padTokenId: padId(tokenizer) ?? positiveInteger(config.pad_token_id) ?? 0,
    tokenizer,
    tokenizerConfig,
  }
}
