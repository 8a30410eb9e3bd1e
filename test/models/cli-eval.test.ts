import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { PROJECT_ROOT } from '../../src/config.js'
import { loadBuiltinModel } from '../../src/models/builtin/load.js'
import { readLabelledTsv } from '../../src/models/dataset.js'
import { evaluate } from '../../src/models/evaluate.js'

let dir: string
let data: string

const SENTENCES = [
  [1, 'A wonderful, moving film with great performances.'],
  [1, 'Funny, smart and beautifully made.'],
  [1, "I loved every minute of it!"],
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
