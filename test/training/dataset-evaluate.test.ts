import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { DatasetError, parseLabelledTsv, readLabelledTsv } from '../../src/training/dataset.js'
import { evaluate, expectedCalibrationError } from '../../src/training/evaluate.js'
import type { Classification, TextClassifier } from '../../src/models/types.js'

test('a labelled TSV: header skipped, CRLF and blank lines tolerated, tabs inside the text kept', () => {
  const examples = parseLabelledTsv('label\tsentence\r\n1\tgreat fun\r\n\n0\tdull\tand long\n', 'x.tsv')
  assert.deepEqual(examples, [
    { label: 1, text: 'great fun' },
    { label: 0, text: 'dull\tand long' },
  ])
})

test('malformed lines name the file and the line', () => {
  assert.throws(() => parseLabelledTsv('label\tsentence\n1\tok\nno tab here\n', 'd.tsv'), {
    name: 'DatasetError',
    message: 'd.tsv:3: expected "label<TAB>sentence", found no tab',
  })
  assert.throws(() => parseLabelledTsv('h\n2\ttext\n', 'd.tsv'), /d\.tsv:2: label must be an integer from 0 to 1, got "2"/)
  assert.throws(() => parseLabelledTsv('h\npositive\ttext\n', 'd.tsv'), /d\.tsv:2: label must be/)
  assert.throws(() => parseLabelledTsv('h\n1\t  \n', 'd.tsv'), /d\.tsv:2: empty sentence/)
  assert.throws(() => parseLabelledTsv('label\tsentence\n', 'd.tsv'), /d\.tsv: no examples/)
})

test('a missing file is a DatasetError naming it', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'infergate-dataset-'))
  try {
    await assert.rejects(readLabelledTsv(path.join(dir, 'nope.tsv')), (error: Error) => {
      assert.ok(error instanceof DatasetError)
      assert.match(error.message, /nope\.tsv: file not found/)
      return true
    })
    await writeFile(path.join(dir, 'ok.tsv'), 'label\tsentence\n0\tbad\n')
    assert.deepEqual(await readLabelledTsv(path.join(dir, 'ok.tsv')), [{ label: 0, text: 'bad' }])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('ECE: 15 equal-width bins over the confidence, weighted by bin size', () => {
  // Bin (0.6, 0.667]: 0.62, 0.65 -> accuracy 1/2, mean confidence 0.635.
  // Bin (0.933, 1]: 0.95, 0.97 -> accuracy 1, mean confidence 0.96.
  const ece = expectedCalibrationError([0.62, 0.65, 0.95, 0.97], [true, false, true, true])
  assert.ok(Math.abs(ece - ((2 / 4) * Math.abs(0.5 - 0.635) + (2 / 4) * Math.abs(1 - 0.96))) < 1e-12)
  assert.equal(expectedCalibrationError([1, 1], [true, true]), 0)
  assert.equal(expectedCalibrationError([0.5, 0.5], [true, false]), 0)
})

/** Says "positive" when the text contains "good", with the confidence given in the text. */
function fakeClassifier(): TextClassifier & { batches: number[] } {
  const batches: number[] = []
  return {
    batches,
    info: { name: 'fake', task: 'text-classification', labels: ['negative', 'positive'], source: 'test' },
    classifyBatch: (texts: readonly string[]): Promise<Classification[]> => {
      batches.push(texts.length)
      return Promise.resolve(
        texts.map((text) => {
          const label = text.includes('good') ? 'positive' : 'negative'
          const confidence = Number(/\d\.\d+/.exec(text)?.[0] ?? '0.9')
          return { label, confidence, scores: {} }
        }),
      )
    },
    close: () => Promise.resolve(),
  }
}

test('evaluate: accuracy, per-class precision/recall/F1, confusion matrix, batches and progress', async () => {
  const classifier = fakeClassifier()
  const examples = [
    { label: 1, text: 'good 0.9' },
    { label: 1, text: 'good 0.8' },
    { label: 1, text: 'meh 0.7' },
    { label: 0, text: 'bad 0.9' },
    { label: 0, text: 'good but 0.6' },
  ]
  const progress: number[] = []
  const report = await evaluate(classifier, examples, { batchSize: 2, onProgress: (done) => progress.push(done) })
  assert.deepEqual(classifier.batches, [2, 2, 1])
  assert.deepEqual(progress, [2, 4, 5])
  assert.equal(report.accuracy, 3 / 5)
  assert.deepEqual(report.confusion, [
    [1, 1],
    [1, 2],
  ])
  const positive = report.perClass[1]!
  assert.equal(positive.precision, 2 / 3)
  assert.equal(positive.recall, 2 / 3)
  assert.equal(positive.support, 3)
  const negative = report.perClass[0]!
  assert.equal(negative.precision, 1 / 2)
  assert.equal(negative.f1, 1 / 2)
  assert.ok(report.meanLatencyMicros >= 0 && report.medianLatencyMicros >= 0)
  assert.equal(report.ece, expectedCalibrationError([0.9, 0.8, 0.7, 0.9, 0.6], [true, true, false, true, false]))
})
