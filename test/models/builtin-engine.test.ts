import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { after, before, test } from 'node:test'
import ort from 'onnxruntime-node'
import { PROJECT_ROOT } from '../../src/config.js'
import { BuiltinEngine } from '../../src/models/builtin/engine.js'
import { Featurizer, toVocabulary, type FeatureSpec, type Vocabulary } from '../../src/models/builtin/features.js'
import { readVocabulary } from '../../src/models/builtin/load.js'
import { buildOnnxModel, type TableStorage } from '../../src/training/graph.js'
import type { BuiltinManifest } from '../../src/models/builtin/manifest.js'
import { tokenize } from '../../src/models/builtin/tokenizer.js'
import { trainBuiltinModel } from '../../src/training/train.js'
import { readBuiltinWeights } from '../../src/models/builtin/weights.js'
import { readLabelledTsv } from '../../src/training/dataset.js'
import { GraphBuilder } from '../../src/models/onnx/graph-builder.js'
import { KERNELS_WASM_SOURCE, KERNELS_WASM_TARGET, kernelsModuleText } from '../wasm-module.js'
import { MIXED, TINY, tinyTsv } from '../fixtures/tiny-builtin.js'

const COMMITTED = path.join(PROJECT_ROOT, 'models', 'sentiment')
const DEV = path.resolve(PROJECT_ROOT, '..', 'shared', 'datasets', 'sst2', 'dev.tsv')

/** The shared mixed texts, a very long one and a few in the tiny model's vocabulary. */
const TEXTS = [...MIXED, 'bad '.repeat(300), 'a great film .', 'not boring at all', 'the plot is not funny .']

let work: string

before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'infergate-engine-'))
  await writeFile(path.join(work, 'train.tsv'), tinyTsv())
})

after(async () => {
  await rm(work, { recursive: true, force: true })
})

/** ONNX Runtime's probabilities for `texts`, one text per run. */
async function onnxProbabilities(bytes: Uint8Array, spec: FeatureSpec, vocabulary: Vocabulary, texts: readonly string[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 })
  const featurizer = new Featurizer(spec, vocabulary)
  const out = new Float32Array(texts.length * 2)
  try {
    for (const [i, text] of texts.entries()) {
      const { data, dims } = featurizer.batch([tokenize(text)])
      const result = await session.run({ features: new ort.Tensor('int64', data, dims) }, ['probabilities'])
      out.set(result.probabilities!.data as Float32Array, i * 2)
    }
  } finally {
    await session.release()
  }
  return out
}

/** Largest |difference| between two probability lists, and how many texts change label. */
function compare(a: Float32Array, b: Float32Array): { maxDiff: number; labelChanges: number } {
  let maxDiff = 0
  let labelChanges = 0
  for (let i = 0; i < a.length; i += 2) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!), Math.abs(a[i + 1]! - b[i + 1]!))
    if (a[i + 1]! > a[i]! !== b[i + 1]! > b[i]!) labelChanges++
  }
  return { maxDiff, labelChanges }
}

test('the evaluator computes what ONNX Runtime computes from the same file: grouped convolution, every table storage', async () => {
  const model = await trainBuiltinModel({ ...TINY, trainFile: path.join(work, 'train.tsv'), threads: 1 })
  assert.equal(model.members.length, 2)
  const vocabulary = toVocabulary(model.vocabulary)
  assert.ok(vocabulary.has('wonderful') && vocabulary.has('tedious'), 'words with vectors but absent from training are in the vocabulary')
  const texts = [...TEXTS, 'a wonderful film', 'not tedious at all', 'never wonderful']
  for (const storage of ['int8', 'float16', 'float32'] as TableStorage[]) {
    const bytes = buildOnnxModel(model, storage)
    const onnx = await onnxProbabilities(bytes, model.features, vocabulary, texts)
    for (const simd of [true, false]) {
      const engine = new BuiltinEngine(readBuiltinWeights(bytes, model.features), model.features, { vocabulary, simd })
      // Two members (two groups) are rewritten as one group with reordered channels, so SIMD applies.
      assert.equal(engine.kernels, simd ? 'simd' : 'javascript')
      const { maxDiff, labelChanges } = compare(engine.probabilities(texts), onnx)
      assert.ok(maxDiff < 1e-5, `${storage} ${engine.kernels}: probabilities differ by ${maxDiff}`)
      assert.equal(labelChanges, 0, storage)
    }
  }
})

test('the committed model: same probabilities as ONNX Runtime on every SST-2 dev sentence (or the fallback texts)', async (t) => {
  const bytes = await readFile(path.join(COMMITTED, 'model.onnx'))
  const manifest = JSON.parse(await readFile(path.join(COMMITTED, 'manifest.json'), 'utf8')) as BuiltinManifest
  let texts = TEXTS
  if (existsSync(DEV)) texts = [...TEXTS, ...(await readLabelledTsv(DEV)).map((e) => e.text)]
  else t.diagnostic(`SST-2 dev set not found at ${DEV}; comparing on ${TEXTS.length} texts only`)
  const weights = readBuiltinWeights(bytes, manifest.features)
  const vocabulary = toVocabulary(await readVocabulary(COMMITTED, manifest))
  const onnx = await onnxProbabilities(bytes, manifest.features, vocabulary, texts)
  for (const simd of [true, false]) {
    const engine = new BuiltinEngine(weights, manifest.features, { simd, vocabulary })
    assert.equal(engine.kernels, simd ? 'simd' : 'javascript')
    const { maxDiff, labelChanges } = compare(engine.probabilities(texts), onnx)
    t.diagnostic(`${engine.kernels} loops: ${texts.length} texts, largest probability difference ${maxDiff.toExponential(2)}`)
    assert.ok(maxDiff < 1e-5, `${engine.kernels}: probabilities differ by ${maxDiff}`)
    assert.equal(labelChanges, 0, engine.kernels)
  }
})

test('the SIMD module is the compiled kernels.wat (npm run build:wasm)', async () => {
  const expected = await kernelsModuleText(await readFile(KERNELS_WASM_SOURCE, 'utf8'))
  assert.equal(await readFile(KERNELS_WASM_TARGET, 'utf8'), expected, 'kernels-wasm.ts is stale: run npm run build:wasm')
})

test('the token cache changes nothing: a cache far smaller than the vocabulary gives the same numbers, batched or not', async () => {
  const bytes = await readFile(path.join(COMMITTED, 'model.onnx'))
  const manifest = JSON.parse(await readFile(path.join(COMMITTED, 'manifest.json'), 'utf8')) as BuiltinManifest
  const weights = readBuiltinWeights(bytes, manifest.features)
  const known = await readVocabulary(COMMITTED, manifest)
  const vocabulary = toVocabulary(known)
  // 1,500 texts over 3,000 words (made-up ones, pretrained ones, negation cues): a 256-slot cache evicts constantly.
  const cues = ['not', "n't", 'never', ',', 'but']
  const words = Array.from({ length: 3000 }, (_, i) => (i % 3 === 0 ? `w${(i * 7919).toString(36)}` : i % 3 === 1 ? (known[i * 11] ?? 'x') : cues[i % cues.length]!))
  const texts = Array.from({ length: 1500 }, (_, i) => Array.from({ length: 1 + (i % 40) }, (_, j) => words[(i * 31 + j * 17) % words.length]).join(' '))
  const roomy = new BuiltinEngine(weights, manifest.features, { vocabulary })
  const tight = new BuiltinEngine(weights, manifest.features, { cacheSize: 256, vocabulary })
  const expected = roomy.probabilities(texts)
  assert.deepEqual(tight.probabilities(texts), expected)
  const oneByOne = new Float32Array(expected.length)
  texts.forEach((text, i) => oneByOne.set(tight.probabilities([text]), i * 2))
  assert.deepEqual(oneByOne, expected)
  assert.throws(() => new BuiltinEngine(weights, manifest.features, { cacheSize: 100, vocabulary }), /cache/)
})

test('an ONNX file that is not a built-in model is refused with the missing part named', () => {
  const g = new GraphBuilder('affine')
  g.input('x', 'float32', ['batch', 2])
  g.initializer('w', new Float32Array([1, 2, 3, 4]), [2, 2])
  g.node('MatMul', ['x', 'w'], ['y'])
  g.output('y', 'float32', ['batch', 2])
  const spec = { hash: 'fnv1a-32', wordBuckets: 4, subwordBuckets: 4, bigramBuckets: 4, subwordMinN: 3, subwordMaxN: 4, maxSlots: 8 } as const
  assert.throws(() => readBuiltinWeights(g.toBytes(), spec), /no initializer "conv_weight"/)
  assert.throws(() => readBuiltinWeights(Buffer.from('not a protobuf at all'), spec), Error)
})
