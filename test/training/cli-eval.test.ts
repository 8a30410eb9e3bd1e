import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { PROJECT_ROOT } from '../../src/config.js'
import { loadBuiltinModel } from '../../src/models/builtin/load.js'
import { readLabelledTsv } from '../../src/training/dataset.js'
import { evaluate } from '../../src/training/evaluate.js'
import { referenceProbabilities, writeTinyHfModel } from '../fixtures/hf-model.js'

let dir: string
let data: string

const SENTENCES = [
  [1, 'A wonderful, moving film with great performances.'],
  [1, 'Funny, smart and beautifully made.'],
  [1, 'I loved every minute of it!'],
  [0, 'A dull, lifeless mess.'],
  [0, "The plot doesn't make any sense and the acting is awful."],
  [0, 'Boring from start to finish.'],
  [0, 'Not as good as I hoped, but still fun.'],
] as const

function infergate(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], { cwd: PROJECT_ROOT, encoding: 'utf8' })
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'infergate-cli-eval-'))
  data = path.join(dir, 'small.tsv')
  await writeFile(data, `label\tsentence\n${SENTENCES.map(([label, text]) => `${label}\t${text}`).join('\n')}\n`)
})

after(async () => {
  await rm(dir, { recursive: true, force: true })
})

test('infergate eval prints the accuracy the library computes on the same file', async () => {
  const classifier = await loadBuiltinModel(path.join(PROJECT_ROOT, 'models', 'sentiment'))
  const expected = await evaluate(classifier, await readLabelledTsv(data))
  await classifier.close()
  const run = infergate('eval', '--data', data, '--batch-size', '3')
  assert.equal(run.status, 0, run.stderr)
  assert.match(run.stdout, new RegExp(`^accuracy: ${(expected.accuracy * 100).toFixed(2)}%$`, 'm'))
  assert.match(run.stdout, /^examples: 7$/m)
  assert.match(run.stdout, /^positive\s+\d+\.\d\d%\s+\d+\.\d\d%\s+\d+\.\d\d%\s+3$/m)
  assert.match(run.stdout, /latency per text: mean [\d.]+ µs, median [\d.]+ µs \(batch size 3\)/)
  assert.match(run.stdout, /expected calibration error \(15 bins\): 0\.\d{4}/)
  assert.equal(run.stderr, '', 'no progress bar when stderr is not a terminal')

  const json = infergate('eval', '--data', data, '--json')
  assert.equal(json.status, 0, json.stderr)
  const report = JSON.parse(json.stdout) as { accuracy: number; confusion: number[][]; examples: number }
  assert.equal(report.accuracy, expected.accuracy)
  assert.deepEqual(report.confusion, expected.confusion)
})

test('infergate eval with several --data files prints one row per file, then the details of each', async () => {
  const challenge = path.join(PROJECT_ROOT, 'test', 'fixtures', 'challenge.tsv')
  const classifier = await loadBuiltinModel(path.join(PROJECT_ROOT, 'models', 'sentiment'))
  const expected = [await evaluate(classifier, await readLabelledTsv(data)), await evaluate(classifier, await readLabelledTsv(challenge))]
  await classifier.close()
  const run = infergate('eval', '--data', data, challenge)
  assert.equal(run.status, 0, run.stderr)
  const [header, first, second] = run.stdout.split('\n')
  assert.match(header!, /^data\s+examples\s+accuracy\s+ece\s+mean µs\/text$/)
  assert.match(
    first!,
    new RegExp(`^small\\.tsv\\s+7\\s+${(expected[0]!.accuracy * 100).toFixed(2)}%\\s+${expected[0]!.ece.toFixed(4)}\\s+[\\d.]+$`),
  )
  assert.match(second!, new RegExp(`^challenge\\.tsv\\s+${expected[1]!.examples}\\s+${(expected[1]!.accuracy * 100).toFixed(2)}%\\s+`))
  assert.match(run.stdout, new RegExp(`^== .*challenge\\.tsv\nexamples: ${expected[1]!.examples}$`, 'm'))

  const json = infergate('eval', '--data', data, '--data', challenge, '--json')
  assert.equal(json.status, 0, json.stderr)
  const report = JSON.parse(json.stdout) as { reports: { data: string; accuracy: number }[] }
  assert.deepEqual(
    report.reports.map((r) => [path.basename(r.data), r.accuracy]),
    [
      ['small.tsv', expected[0]!.accuracy],
      ['challenge.tsv', expected[1]!.accuracy],
    ],
  )
})

test('infergate eval explains a missing data file or model folder in one line', () => {
  const missing = infergate('eval', '--data', path.join(dir, 'nope.tsv'))
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /^infergate: --data .*nope\.tsv: file not found\n$/)
  const noModel = infergate('eval', '--data', data, '--model-dir', path.join(dir, 'no-model'))
  assert.equal(noModel.status, 1)
  assert.match(noModel.stderr, /no-model[/\\]manifest\.json: file not found/)
  const badBatch = infergate('eval', '--data', data, '--batch-size', '0')
  assert.equal(badBatch.status, 2)
})

test('infergate eval --model scores a Hugging Face export folder; labels index its id2label', async () => {
  const labels = ['negative', 'neutral', 'positive']
  const model = writeTinyHfModel(path.join(dir, 'hf'), { words: ['good', 'bad', 'movie', 'plot', 'the'], labels })
  const texts: [string, string[]][] = [
    ['good movie', ['good', 'movie']],
    ['bad plot', ['bad', 'plot']],
    ['the movie', ['the', 'movie']],
    ['bad', ['bad']],
  ]
  const predicted = texts.map(([, tokens]) => {
    const p = referenceProbabilities(model, tokens)
    return p.indexOf(Math.max(...p))
  })
  // Every text labelled with the reference prediction but the last, labelled with another class: 75 %.
  const gold = predicted.map((label, i) => (i === texts.length - 1 ? (label + 1) % labels.length : label))
  const file = path.join(dir, 'three-classes.tsv')
  await writeFile(file, `label\tsentence\n${texts.map(([text], i) => `${gold[i]}\t${text}`).join('\n')}\n`)

  const run = infergate('eval', '--data', file, '--model', model.dir, '--json')
  assert.equal(run.status, 0, run.stderr)
  const report = JSON.parse(run.stdout) as { accuracy: number; labels: string[]; examples: number; model: string; confusion: number[][] }
  assert.equal(report.model, model.dir)
  assert.deepEqual(report.labels, labels)
  assert.equal(report.examples, 4)
  assert.equal(report.accuracy, 0.75)
  assert.equal(
    report.confusion.flat().reduce((a, b) => a + b, 0),
    4,
  )

  await writeFile(path.join(dir, 'label-3.tsv'), 'label\tsentence\n3\tgood movie\n')
  const outOfRange = infergate('eval', '--data', path.join(dir, 'label-3.tsv'), '--model', model.dir)
  assert.equal(outOfRange.status, 1)
  assert.match(outOfRange.stderr, /label-3\.tsv:2: label must be an integer from 0 to 2, got "3"/)

  await rm(path.join(model.dir, 'tokenizer.json'))
  const broken = infergate('eval', '--data', file, '--model', model.dir)
  assert.equal(broken.status, 1)
  assert.match(broken.stderr, /^infergate: --model .*hf: .*tokenizer\.json: file not found\n$/)
  const both = infergate('eval', '--data', file, '--model', model.dir, '--model-dir', path.join(PROJECT_ROOT, 'models', 'sentiment'))
  assert.notEqual(both.status, 0)
  assert.match(both.stderr, /--model.*cannot be used with.*--model-dir/)
})
