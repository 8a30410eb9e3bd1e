/**
 * The built-in model's cost per text at batch 1 (issue target: under 50 µs on one core),
 * over SST-2 dev sentences (or the fallback list):
 * - in-process, the evaluator that serves it (`engine.ts`: tokenise + evaluate on this thread):
 *   the model's own cost on one core, once its tokens are cached (after a warm-up) and on first
 *   sight of every token (a fresh evaluator per round);
 * - in-process, the same `model.onnx` through ONNX Runtime (tokenise + featurise + `run`, one
 *   thread): what the evaluator replaced;
 * - as served: `loadBuiltinModel().classifyBatch([text])`, which adds the hop to the model's
 *   worker thread (two postMessage) that keeps the event loop free; and batch 64, per text.
 */
import fs from 'node:fs'
import path from 'node:path'
import ort from 'onnxruntime-node'
import { BuiltinEngine } from '../../src/models/builtin/engine.js'
import { Featurizer, toVocabulary, type Vocabulary } from '../../src/models/builtin/features.js'
import { loadBuiltinModel, readVocabulary } from '../../src/models/builtin/load.js'
import { MANIFEST_FILE, MODEL_FILE, validateManifest } from '../../src/models/builtin/manifest.js'
import { tokenize } from '../../src/models/builtin/tokenizer.js'
import { readBuiltinWeights } from '../../src/models/builtin/weights.js'
import { median } from '../lib/load.js'
import { PROJECT_ROOT } from '../lib/paths.js'
import type { ScenarioReport } from '../lib/report.js'
import { markdownTable } from '../lib/report.js'
import { benchTexts } from '../lib/texts.js'

export interface ModelLatencyOptions {
  log: (line: string) => void
  /** Built-in model folder (default: the committed models/sentiment), to compare another model in the same way. */
  modelDir?: string
}

const MODEL_DIR = path.join(PROJECT_ROOT, 'models', 'sentiment')
const ROUNDS = 5

interface Latency {
  medianUs: number
  p10Us: number
  rounds: number[]
}

/** Per-round medians of µs per text, and their median; `fresh()` runs before each round. */
async function measure(texts: string[], batch: number, call: (texts: string[]) => unknown, fresh?: () => void): Promise<Latency> {
  if (!fresh) for (let i = 0; i < Math.min(200, texts.length); i += batch) await call(texts.slice(i, i + batch)) // warm-up
  const rounds: number[] = []
  const all: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    fresh?.()
    const perText: number[] = []
    for (let i = 0; i + batch <= texts.length; i += batch) {
      const start = process.hrtime.bigint()
      await call(texts.slice(i, i + batch))
      perText.push(Number(process.hrtime.bigint() - start) / 1000 / batch)
    }
    rounds.push(median(perText))
    all.push(...perText)
  }
  all.sort((a, b) => a - b)
  return { medianUs: median(rounds), p10Us: all[Math.floor(all.length / 10)]!, rounds }
}

async function readModel(dir: string): Promise<{ bytes: Buffer; manifest: ReturnType<typeof validateManifest>; vocabulary: Vocabulary }> {
  const manifestPath = path.join(dir, MANIFEST_FILE)
  const manifest = validateManifest(JSON.parse(fs.readFileSync(manifestPath, 'utf8')), manifestPath)
  const vocabulary = toVocabulary(await readVocabulary(dir, manifest))
  return { bytes: fs.readFileSync(path.join(dir, manifest.onnx.file || MODEL_FILE)), manifest, vocabulary }
}

/** The evaluator on this thread: warm (tokens cached) and first sight (a fresh evaluator per round). */
async function evaluatorInProcess(dir: string, texts: string[]): Promise<{ warm: Latency; cold: Latency }> {
  const { bytes, manifest, vocabulary } = await readModel(dir)
  const weights = readBuiltinWeights(bytes, manifest.features)
  let engine = new BuiltinEngine(weights, manifest.features, { vocabulary })
  const warm = await measure(texts, 1, (batch) => engine.probabilities(batch))
  const cold = await measure(
    texts,
    1,
    (batch) => engine.probabilities(batch),
    () => (engine = new BuiltinEngine(weights, manifest.features, { vocabulary })),
  )
  return { warm, cold }
}

async function onnxRuntimeInProcess(dir: string, texts: string[]): Promise<Latency> {
  const { bytes, manifest, vocabulary } = await readModel(dir)
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 })
  const featurizer = new Featurizer(manifest.features, vocabulary)
  const classify = async (batch: string[]) => {
    const { data, dims } = featurizer.batch(batch.map((text) => tokenize(text)))
    await session.run({ features: new ort.Tensor('int64', data, dims) }, ['probabilities'])
  }
  try {
    return await measure(texts, 1, classify)
  } finally {
    await session.release()
  }
}

export async function runModelLatency(options: ModelLatencyOptions): Promise<ScenarioReport> {
  const texts = benchTexts(872)
  const dir = options.modelDir ?? MODEL_DIR
  if (dir !== MODEL_DIR) options.log(`  model: ${dir}`)
  const evaluator = await evaluatorInProcess(dir, texts)
  options.log(
    `  evaluator batch 1: ${evaluator.warm.medianUs.toFixed(1)} µs/text (first sight of every token: ${evaluator.cold.medianUs.toFixed(1)})`,
  )
  const onnx = await onnxRuntimeInProcess(dir, texts)
  options.log(`  ONNX Runtime batch 1: ${onnx.medianUs.toFixed(1)} µs/text`)
  const model = await loadBuiltinModel(dir)
  const served1 = await measure(texts, 1, (batch) => model.classifyBatch(batch))
  options.log(`  worker batch 1: ${served1.medianUs.toFixed(1)} µs/text`)
  const served64 = await measure(texts, 64, (batch) => model.classifyBatch(batch))
  options.log(`  worker batch 64: ${served64.medianUs.toFixed(1)} µs/text`)
  await model.close()
  const met = (l: Latency) => (l.medianUs < 50 ? 'yes' : 'NO')
  const row = (what: string, l: Latency, target = '', verdict = '') => [what, l.medianUs.toFixed(1), l.p10Us.toFixed(1), target, verdict]
  const rows = [
    row(
      'batch 1, in-process: tokenise + evaluate (the evaluator that serves it), tokens cached',
      evaluator.warm,
      '< 50 µs',
      met(evaluator.warm),
    ),
    row('batch 1, in-process, first sight of every token (fresh evaluator each round)', evaluator.cold),
    row('batch 1, in-process, same model.onnx through ONNX Runtime (tokenise + features + run)', onnx),
    row("batch 1, as served (plus the hop to the model's worker thread)", served1),
    row('batch 64, as served, per text', served64),
  ]
  return {
    id: 'model-latency',
    title: 'Built-in model: µs per text',
    markdown: `${markdownTable(['what', 'median µs/text (median of 5 rounds)', '10th percentile', 'target', 'met'], rows)}\n\n- ${texts.length} sentences per round (SST-2 dev when present), after a warm-up of 200 (none for the first-sight row)${dir === MODEL_DIR ? '' : `; model ${dir}`}.`,
    data: { evaluator, onnxRuntime: onnx, served1, served64 },
  }
}
