/**
 * Trains one variant of the built-in model for the comparisons in docs/model.md ("What was
 * tried"): `trainBuiltinModel` with the options given as JSON, exported to `--out`, then scored
 * through the evaluator on the dev set and the challenge set. Prints one JSON line: held-out
 * accuracy and log-loss (float weights, before export), stacking weights, sizes, dev and
 * challenge accuracy and ECE. Needs the vectors package installed, as `infergate train` does.
 *
 *   node --import tsx scripts/train-variant.ts --out /tmp/win3 '{"negation":{"window":3}}'
 */
import { stat } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { PROJECT_ROOT } from '../src/config.js'
import { loadBuiltinModel } from '../src/models/builtin/load.js'
import { readLabelledTsv } from '../src/training/dataset.js'
import { evaluate } from '../src/training/evaluate.js'
import { exportBuiltinModel } from '../src/training/export.js'
import { trainBuiltinModel, type BuiltinTrainOptions } from '../src/training/train.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    out: { type: 'string' },
    data: { type: 'string', default: path.join(PROJECT_ROOT, '..', 'shared', 'datasets', 'sst2', 'train.tsv') },
    challenge: { type: 'string', default: path.join(PROJECT_ROOT, 'test', 'fixtures', 'challenge.tsv') },
  },
})
if (values.out === undefined) throw new Error('usage: train-variant.ts --out DIR [--data train.tsv] [OPTIONS_JSON]')
const options = JSON.parse(positionals[0] ?? '{}') as Partial<BuiltinTrainOptions>
const model = await trainBuiltinModel({ ...options, trainFile: values.data })
const manifest = await exportBuiltinModel(model, { outDir: values.out })
const vocabulary = await stat(path.join(values.out, 'vocabulary.txt')).catch(() => undefined)
const result: Record<string, unknown> = {
  options,
  heldOut: model.heldOut,
  stacking: model.stacking,
  onnxBytes: manifest.onnx.bytes,
  totalBytes: manifest.onnx.bytes + (vocabulary?.size ?? 0),
  trainSeconds: model.durationMs / 1000,
}
const classifier = await loadBuiltinModel(values.out)
try {
  for (const [key, file] of [
    ['dev', path.join(path.dirname(values.data), 'dev.tsv')],
    ['challenge', values.challenge],
  ] as const) {
    const report = await evaluate(classifier, await readLabelledTsv(file), { batchSize: 64 })
    result[key] = { accuracy: report.accuracy, ece: report.ece }
  }
} finally {
  await classifier.close()
}
console.log(JSON.stringify(result))
