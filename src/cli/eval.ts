/**
 * `infergate eval`: scores a model folder on labelled TSV files — accuracy, per-class
 * precision/recall/F1, confusion matrix, mean latency per text and expected calibration error.
 * Several `--data` files (say SST-2 dev and the negation challenge set) get one summary row each,
 * then their details. The built-in model by default; `--model DIR` scores a Hugging Face export
 * folder instead, as `serve --model` would load it, so both can be compared on the same files.
 */
import path from 'node:path'
import { Option, type Command } from 'commander'
import { PROJECT_ROOT } from '../config.js'
import { loadBuiltinModel } from '../models/builtin/load.js'
import { loadHfModel } from '../models/hf/load.js'
import type { TextClassifier } from '../models/types.js'
import { readLabelledTsv } from '../training/dataset.js'
import { evaluate, type EvaluationReport } from '../training/evaluate.js'
import { CliError } from './run.js'
import { renderTable } from './table.js'
import { datasetErrors, integerFlag, requireFile } from './train.js'

interface EvalFlags {
  data: string[]
  modelDir: string
  model?: string
  batchSize: string
  json?: boolean
  warmup?: boolean
}

/** Registers `infergate eval`. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('score a model on a label<TAB>sentence TSV file (accuracy, precision/recall/F1, latency, ECE)')
    .requiredOption(
      '--data <files...>',
      "labelled data: label<TAB>sentence TSV with a header line (label = index into the model's labels; built-in: 1 = positive); several files: one row each",
    )
    .option('--model-dir <dir>', 'built-in model folder', path.join(PROJECT_ROOT, 'models', 'sentiment'))
    .addOption(new Option('--model <dir>', 'score a Hugging Face export folder instead (as serve --model loads it)').conflicts('modelDir'))
    .option('--batch-size <n>', 'texts per model call', '64')
    .option('--json', 'print the report as JSON')
    .option('--warmup', 'classify the whole file once, untimed, before measuring (steady-state latency)')
    .action(async (flags: EvalFlags) => {
      await runEval(flags)
    })
}

async function runEval(flags: EvalFlags): Promise<void> {
  const files = flags.data.map((file) => requireFile(file, '--data'))
  const batchSize = integerFlag(flags.batchSize, '--batch-size', 1)
  const classifier = await loadForEval(flags)
  try {
    const reports: (EvaluationReport & { data: string })[] = []
    for (const data of files) {
      const bar = process.stderr.isTTY ? progressBar(files.length > 1 ? path.basename(data) : '') : undefined
      const examples = await datasetErrors(() => readLabelledTsv(data, { classes: classifier.info.labels.length }))
      if (flags.warmup === true) await evaluate(classifier, examples, { batchSize })
      reports.push({ data, ...(await evaluate(classifier, examples, { batchSize, onProgress: bar?.update })) })
      bar?.done()
    }
    const model = flags.model === undefined ? { modelDir: flags.modelDir } : { model: flags.model }
    if (flags.json === true) {
      console.log(JSON.stringify(reports.length === 1 ? { ...reports[0], ...model } : { ...model, reports }, null, 2))
    } else if (reports.length === 1) {
      console.log(formatReport(reports[0]!))
    } else {
      console.log([formatSummary(reports), ...reports.map((r) => `\n== ${r.data}\n${formatReport(r)}`)].join('\n'))
    }
  } finally {
    await classifier.close()
  }
}

/** The Hugging Face folder of `--model`, else the built-in model of `--model-dir`; a load error names the flag. */
async function loadForEval({ model, modelDir }: EvalFlags): Promise<TextClassifier> {
  const [flag, dir] = model === undefined ? ['--model-dir', modelDir] : ['--model', model]
  try {
    return model === undefined ? await loadBuiltinModel(modelDir) : await loadHfModel(model, { name: path.basename(path.resolve(model)) })
  } catch (error) {
    throw new CliError(`${flag} ${dir}: ${(error as Error).message}`)
  }
}

/** One row per data file: examples, accuracy, ECE, latency. */
function formatSummary(reports: readonly (EvaluationReport & { data: string })[]): string {
  return renderTable(
    ['data', 'examples', 'accuracy', 'ece', 'mean µs/text'],
    reports.map((r) => [
      path.basename(r.data),
      String(r.examples),
      `${(r.accuracy * 100).toFixed(2)}%`,
      r.ece.toFixed(4),
      r.meanLatencyMicros.toFixed(1),
    ]),
  )
}

/** The human-readable report. */
function formatReport(r: EvaluationReport): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`
  const perClass = renderTable(
    ['label', 'precision', 'recall', 'f1', 'support'],
    r.perClass.map((c) => [c.label, pct(c.precision), pct(c.recall), pct(c.f1), String(c.support)]),
  )
  const confusion = renderTable(
    ['actual \\ predicted', ...r.labels],
    r.labels.map((label, i) => [label, ...r.confusion[i]!.map(String)]),
  )
  return [
    `examples: ${r.examples}`,
    `accuracy: ${pct(r.accuracy)}`,
    '',
    perClass,
    '',
    confusion,
    '',
    `latency per text: mean ${r.meanLatencyMicros.toFixed(1)} µs, median ${r.medianLatencyMicros.toFixed(1)} µs (batch size ${r.batchSize})`,
    `expected calibration error (15 bins): ${r.ece.toFixed(4)}`,
  ].join('\n')
}

/** A one-line progress bar redrawn in place on stderr, after `label`. */
function progressBar(label: string): { update: (done: number, total: number) => void; done: () => void } {
  const width = 30
  return {
    update: (done, total) => {
      const filled = Math.round((done / Math.max(1, total)) * width)
      process.stderr.write(`\r${label === '' ? '' : `${label} `}[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`)
    },
    done: () => process.stderr.write('\n'),
  }
}
