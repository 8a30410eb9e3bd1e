/**
 * The built-in model's cost per text at batch 1 (issue target: under 50 µs on one core),
 * measured two ways over SST-2 dev sentences (or the fallback list):
 * - in-process: tokenise + featurise + ONNX Runtime `run` on this thread, one ORT thread:
 *   the model's own cost on one core;
 * - as served: `loadBuiltinModel().classifyBatch([text])`, which adds the hop to the inference
 *   worker thread (two postMessage) that keeps the event loop free.
 * And at batch 64 through the worker, per text.
 */
import fs from 'node:fs'
import path from 'node:path'
import ort from 'onnxruntime-node'
import { Featurizer } from '../../src/models/builtin/features.js'
import { loadBuiltinModel } from '../../src/models/builtin/load.js'
import { MANIFEST_FILE, MODEL_FILE, validateManifest } from '../../src/models/builtin/manifest.js'
import { tokenize } from '../../src/models/builtin/tokenizer.js'
import { median } from '../lib/load.js'
import { PROJECT_ROOT } from '../lib/paths.js'
import type { ScenarioReport } from '../lib/report.js'
import { markdownTable } from '../lib/report.js'
import { benchTexts } from '../lib/texts.js'

export interface ModelLatencyOptions {
  log: (line: string) => void
}

const MODEL_DIR = path.join(PROJECT_ROOT, 'models', 'sentiment')
const ROUNDS = 5

/** Per-round medians of µs per text, and their median. */
async function measure(texts: string[], batch: number, call: (texts: string[]) => Promise<unknown>): Promise<{ medianUs: number; p10Us: number; rounds: number[] }> {
  for (let i = 0; i < Math.min(200, texts.length); i += batch) await call(texts.slice(i, i + batch)) // warm-up
  const rounds: number[] = []
  const all: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
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

async function inProcess(texts: string[]) {
  const manifestPath = path.join(MODEL_DIR, MANIFEST_FILE)
  const manifest = validateManifest(JSON.parse(fs.readFileSync(manifestPath, 'utf8')), manifestPath)
  const session = await ort.InferenceSession.create(path.join(MODEL_DIR, manifest.onnx.file || MODEL_FILE), { intraOpNumThreads: 1, interOpNumThreads: 1 })
  const featurizer = new Featurizer(manifest.features)
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
  const local = await inProcess(texts)
  options.log(`  in-process batch 1: ${local.medianUs.toFixed(1)} µs/text`)
  const model = await loadBuiltinModel(MODEL_DIR)
  const served1 = await measure(texts, 1, (batch) => model.classifyBatch(batch))
  options.log(`  worker batch 1: ${served1.medianUs.toFixed(1)} µs/text`)
  const served64 = await measure(texts, 64, (batch) => model.classifyBatch(batch))
  options.log(`  worker batch 64: ${served64.medianUs.toFixed(1)} µs/text`)
  await model.close()
  const rows = [
    ['batch 1, in-process (tokenise + features + ORT run, one thread)', local.medianUs.toFixed(1), local.p10Us.toFixed(1), '< 50 µs', local.medianUs < 50 ? 'yes' : 'NO'],
    ['batch 1, as served (plus the hop to the inference worker)', served1.medianUs.toFixed(1), served1.p10Us.toFixed(1), '', ''],
    ['batch 64, as served, per text', served64.medianUs.toFixed(1), served64.p10Us.toFixed(1), '', ''],
  ]
  return {
    id: 'model-latency',
    title: 'Built-in model: µs per text',
    markdown: `${markdownTable(['what', 'median µs/text (median of 5 rounds)', '10th percentile', 'target', 'met'], rows)}\n\n- ${texts.length} sentences per round (SST-2 dev when present), after a warm-up.`,
    data: { inProcess: local, served1, served64 },
  }
}
