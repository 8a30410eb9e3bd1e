/**
 * Writes a trained built-in model as `model.onnx` (see `graph.ts`) + `manifest.json`.
 */
import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { padRow } from '../models/builtin/features.js'
import { buildOnnxModel, OPSET, type TableStorage } from './graph.js'
import {
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MODEL_FILE,
  VOCABULARY_FILE,
  type BuiltinManifest,
  type EvaluationSummary,
  type TensorContract,
} from '../models/builtin/manifest.js'
import { fnv1a, tokenizerSpec } from '../models/builtin/tokenizer.js'
import type { TrainedBuiltinModel } from './train.js'

const LABELS = ['negative', 'positive']

const INPUTS: TensorContract[] = [
  {
    name: 'features',
    type: 'int64',
    shape: ['batch', 'tokens', 'slots'],
    description:
      'slots of each token: word row, bigram row, pretrained row, sub-word rows (see features); unused places hold features.padRow; tokens >= 1, slots >= 2',
  },
]
const OUTPUTS: TensorContract[] = [
  { name: 'logits', type: 'float32', shape: ['batch', 2], description: 'calibrated logits [negative, positive]' },
  { name: 'probabilities', type: 'float32', shape: ['batch', 2], description: 'softmax of logits' },
]

/** Options of {@link exportBuiltinModel}. */
export interface ExportOptions {
  outDir: string
  /** Model name clients use (default `sentiment`). */
  name?: string
  /** How table rows are stored: `int8` (default, per-row scale), `float16` or `float32`. */
  tableStorage?: TableStorage
}

/** Writes `model.onnx` and `manifest.json` into `outDir` (created if needed); returns the manifest. */
export async function exportBuiltinModel(model: TrainedBuiltinModel, options: ExportOptions): Promise<BuiltinManifest> {
  const bytes = buildOnnxModel(model, options.tableStorage)
  await mkdir(options.outDir, { recursive: true })
  await writeAtomically(path.join(options.outDir, MODEL_FILE), bytes)
  const vocabulary = model.vocabulary.map((word) => `${word}\n`).join('')
  if (model.vocabulary.length > 0) await writeAtomically(path.join(options.outDir, VOCABULARY_FILE), vocabulary)
  else await rm(path.join(options.outDir, VOCABULARY_FILE), { force: true })
  const manifest = buildManifest(model, options.name ?? 'sentiment', bytes, options.tableStorage ?? 'int8')
  if (model.pretrained) {
    manifest.vocabulary = {
      file: VOCABULARY_FILE,
      words: model.vocabulary.length,
      sha256: sha256(Buffer.from(vocabulary)),
      vectors: model.pretrained,
    }
  }
  await writeAtomically(path.join(options.outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}

/** Stores scores measured on the exported model into the folder's manifest: dev (`evaluation`) or the challenge set. */
export async function recordEvaluation(
  outDir: string,
  evaluation: EvaluationSummary,
  key: 'evaluation' | 'challenge' = 'evaluation',
): Promise<BuiltinManifest> {
  const file = path.join(outDir, MANIFEST_FILE)
  const manifest = JSON.parse(await readFile(file, 'utf8')) as BuiltinManifest
  manifest[key] = evaluation
  await writeAtomically(file, `${JSON.stringify(manifest, null, 2)}\n`)
  return manifest
}

function buildManifest(model: TrainedBuiltinModel, name: string, bytes: Uint8Array, storage: TableStorage): BuiltinManifest {
  const { hyperParameters: hp } = model
  return {
    format: MANIFEST_FORMAT,
    name,
    task: 'text-classification',
    description: model.pretrained
      ? 'Binary sentiment of English text (SST-2), trained by infergate: CNNs over hashed word and character n-gram embeddings plus pretrained GloVe word vectors (projected), negation scopes marked, stacked with a bag of word n-grams.'
      : 'Binary sentiment of English text (SST-2), trained by infergate: CNNs over hashed word and character n-gram embeddings, stacked with a bag of word n-grams.',
    labels: LABELS,
    tokenizer: tokenizerSpec(),
    features: {
      ...model.features,
      padRow: padRow(model.features),
      testVectors: Object.fromEntries(['', 'a', 'foobar', "n't", 'café'].map((s) => [s, fnv1a(s).toString(16).padStart(8, '0')])),
    },
    onnx: { file: MODEL_FILE, opset: OPSET, bytes: bytes.length, sha256: sha256(bytes), inputs: INPUTS, outputs: OUTPUTS },
    architecture: {
      type: 'cnn-ensemble+bag',
      cnn: {
        members: model.members.length,
        tokenVector:
          'sum of the table rows in the token slots; members 1, 3, ... were trained on word + pretrained + sub-word rows, members 2, 4, ... on word rows alone',
        pretrainedRows:
          'row P + 1 + i = plain projection of the vector of vocabulary word i, row P + 1 + V + i = its negated projection (P = padRow, V = pretrainedWords); both projections learned, the vectors frozen',
        convolution: { widths: hp.widths, mapsPerWidth: hp.maps, dim: hp.dim },
        pooling: 'per channel: max over positions with a floor of 0, + bias, relu',
        output: 'linear to 2 logits, averaged over members',
      },
      bag: {
        dim: model.bag.out.length / 2,
        textVector: 'sum of the word and bigram rows divided by the number of tokens',
        output: 'linear to 2 logits',
        ...(model.stacking.linear !== undefined && {
          linearColumn: 'the last column is an NB-LR member (one score per row, divided by the number of tokens), folded in at export',
        }),
      },
      stacking: {
        ...model.stacking,
        formula:
          model.stacking.linear === undefined
            ? 'logits = cnn * (average CNN logits) + bag * (bag logits); fitted on held-out training sentences (log-loss)'
            : 'margin = cnn * (average CNN margin) + bag * (bag margin) + linear * (NB-LR margin), the last folded into the bag; fitted on held-out training sentences (log-loss)',
      },
      tables: `${storage}${storage === 'int8' ? ' with one float32 scale per row' : ''}; only rows used in training are stored`,
    },
    hyperParameters: {
      cnn: { ...hp },
      bag: { ...model.bagHyperParameters },
      ...(model.linearHyperParameters && { linear: { ...model.linearHyperParameters } }),
    },
    training: {
      data: model.data,
      seed: model.seed,
      heldOutFraction: model.heldOutFraction,
      heldOut: model.heldOut,
      startedAt: model.startedAt,
      durationMs: model.durationMs,
      command: 'infergate train',
    },
    evaluation: null,
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${file}.tmp-${process.pid}`
  await writeFile(temporary, data)
  await rename(temporary, file)
}
