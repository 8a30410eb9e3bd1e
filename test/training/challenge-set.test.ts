import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { PROJECT_ROOT } from '../../src/config.js'
import { loadBuiltinModel } from '../../src/models/builtin/load.js'
import type { BuiltinManifest } from '../../src/models/builtin/manifest.js'
import { readLabelledTsv } from '../../src/training/dataset.js'
import { evaluate } from '../../src/training/evaluate.js'

const MODEL_DIR = path.join(PROJECT_ROOT, 'models', 'sentiment')
const CHALLENGE = path.join(PROJECT_ROOT, 'test', 'fixtures', 'challenge.tsv')

/**
 * The floor for the shipped model on the challenge set. The model trained without negation
 * marking and pretrained vectors (the one before, docs/model.md) scores 62.5 % on it; with 112
 * sentences one standard error is ~4 points, so 70 % fails a model that lost what made the
 * difference while leaving room for a retrain with another seed.
 */
const FLOOR = 0.7

test('the challenge set: at least 100 short hand-written sentences, balanced labels, no duplicates', async () => {
  const examples = await readLabelledTsv(CHALLENGE)
  assert.ok(examples.length >= 100, `${examples.length} sentences`)
  const positive = examples.filter((e) => e.label === 1).length
  assert.equal(positive, examples.length - positive, 'as many positive as negative sentences')
  assert.equal(new Set(examples.map((e) => e.text.toLowerCase())).size, examples.length, 'no sentence twice')
  for (const e of examples) assert.ok(e.text.split(' ').length <= 16, `short: ${e.text}`)
})

test(`the committed model scores >= ${FLOOR * 100}% on the challenge set, as its manifest records, and gets the README examples right`, async (t) => {
  const manifest = JSON.parse(await readFile(path.join(MODEL_DIR, 'manifest.json'), 'utf8')) as BuiltinManifest
  const classifier = await loadBuiltinModel(MODEL_DIR)
  try {
    const report = await evaluate(classifier, await readLabelledTsv(CHALLENGE))
    t.diagnostic(`challenge accuracy ${(report.accuracy * 100).toFixed(2)}%, ECE ${report.ece.toFixed(4)}`)
    assert.ok(report.accuracy >= FLOOR, `challenge accuracy ${report.accuracy} is below ${FLOOR}`)
    assert.ok(manifest.challenge, 'the manifest records no challenge-set evaluation')
    assert.ok(Math.abs(report.accuracy - manifest.challenge.accuracy) <= 0.0005, `manifest claims ${manifest.challenge.accuracy}`)
    const readme = await readFile(path.join(PROJECT_ROOT, 'README.md'), 'utf8')
    for (const text of ['a wonderful film', 'a dull, tedious mess', 'not bad at all'])
      assert.ok(readme.includes(text), `README shows "${text}"`)
    const [wonderful, dull, notBad] = await classifier.classifyBatch(['a wonderful film', 'a dull, tedious mess', 'not bad at all'])
    assert.equal(wonderful!.label, 'positive')
    assert.equal(dull!.label, 'negative')
    assert.equal(notBad!.label, 'positive')
  } finally {
    await classifier.close()
  }
})
