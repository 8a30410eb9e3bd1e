/**
 * Hugging Face–shaped folders: outputs checked against logits recomputed independently,
 * truncation, padding, and broken folders refused at load time with the file named.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { loadHfModel } from '../../src/models/hf/load.js'
import { ModelLoadError } from '../../src/models/load-error.js'
import { tempDir } from '../helper.js'
import { referenceLogits, referenceProbabilities, writeTinyHfModel } from '../fixtures/hf-model.js'
import { TOKENIZERS } from '../fixtures/hf-tokenizers.js'
import { readHfConfig } from '../../src/models/hf/config.js'
import { TokenEncoder } from '../../src/models/hf/encoder.js'

const WORDS = ['good', 'bad', 'movie', 'great', 'awful', 'plot', 'the', 'was', '##s', 'act', '##ing']
const LABELS = ['negative', 'neutral', 'positive']

describe('Hugging Face export folders', () => {
  const dir = tempDir()
  const model = writeTinyHfModel(path.join(dir, 'tiny'), { words: WORDS, labels: LABELS, maxLength: 8 })

  test('outputs match an independent computation, for every text of a mixed-length batch', async () => {
    const classifier = await loadHfModel(model.dir, { name: 'tiny' })
    assert.deepEqual(classifier.info.labels, LABELS)
    assert.equal(classifier.info.maxLength, 8)
    const cases: [string, string[]][] = [
      ['Good movie', ['good', 'movie']],
      ['The acting was AWFUL', ['the', 'act', '##ing', 'was', 'awful']],
      ['plots!', ['plot', '##s', '[UNK]']],
      ['great', ['great']],
    ]
    const results = await classifier.classifyBatch(cases.map(([text]) => text))
    results.forEach((result, i) => {
      const expected = referenceProbabilities(model, cases[i]![1])
      LABELS.forEach((label, j) => assert.ok(Math.abs(result.scores[label]! - expected[j]!) < 1e-5, `${cases[i]![0]} ${label}`))
      assert.equal(result.label, LABELS[expected.indexOf(Math.max(...expected))])
      assert.equal(result.confidence, result.scores[result.label])
    })
    const alone = await classifier.classifyBatch(['great'])
    assert.deepEqual(alone[0]!.scores, results[3]!.scores, 'padding changed a result')
    await classifier.close()
  })

  test('the model\'s worker thread tokenises: this thread never does, so long texts cannot stall it', async (t) => {
    // Instrumentation of this thread's TokenEncoder (the worker has its own copy of the module).
    const encodeBatch = t.mock.method(TokenEncoder.prototype, 'encodeBatch')
    const classifier = await loadHfModel(model.dir, { name: 'tiny' })
    const long = 'good movie '.repeat(900)
    const results = await classifier.classifyBatch([long, 'great'])
    await classifier.close()
    assert.equal(encodeBatch.mock.callCount(), 0)
    const expected = referenceProbabilities(model, ['good', 'movie', 'good', 'movie', 'good', 'movie'])
    LABELS.forEach((label, j) => assert.ok(Math.abs(results[0]!.scores[label]! - expected[j]!) < 1e-5, label))
  })

  test('texts longer than the model are truncated, keeping [CLS] and [SEP]', async () => {
    const classifier = await loadHfModel(model.dir, { name: 'tiny' })
    const [long] = await classifier.classifyBatch(['good bad movie great awful plot the was good bad'])
    const expected = referenceProbabilities(model, ['good', 'bad', 'movie', 'great', 'awful', 'plot'])
    LABELS.forEach((label, j) => assert.ok(Math.abs(long!.scores[label]! - expected[j]!) < 1e-5))
    await classifier.close()
  })

  test('weights stored as external data (model.onnx_data, as exported over 2 GB) are read from beside model.onnx', async () => {
    for (const location of ['model.onnx_data', 'weights/part-1.bin']) {
      const folder = path.join(dir, `external-${location.replace(/\W/g, '-')}`)
      fs.mkdirSync(path.join(folder, 'weights'), { recursive: true })
      const external = writeTinyHfModel(folder, { words: WORDS, labels: LABELS, externalData: location })
      const weightBytes = 4 * (external.vocab.length + 1) * LABELS.length
      assert.equal(fs.statSync(path.join(folder, location)).size, weightBytes, 'W and bias live in the external file')
      const classifier = await loadHfModel(folder, { name: 'external' })
      const [result] = await classifier.classifyBatch(['The acting was AWFUL'])
      const expected = referenceProbabilities(external, ['the', 'act', '##ing', 'was', 'awful'])
      LABELS.forEach((label, j) => assert.ok(Math.abs(result!.scores[label]! - expected[j]!) < 1e-5, `${location} ${label}`))
      await classifier.close()
    }
  })

  test('a graph that declares token_type_ids gets zeros for one sequence, padded and masked', async () => {
    const typed = writeTinyHfModel(path.join(dir, 'token-types'), { words: WORDS, labels: LABELS, maxLength: 8, extraInputs: ['token_type_ids'] })
    const classifier = await loadHfModel(typed.dir, { name: 'typed' })
    const results = await classifier.classifyBatch(['Good movie', 'The acting was AWFUL'])
    const cases = [['good', 'movie'], ['the', 'act', '##ing', 'was', 'awful']]
    results.forEach((result, i) => {
      const expected = referenceProbabilities(typed, cases[i]!)
      LABELS.forEach((label, j) => assert.ok(Math.abs(result.scores[label]! - expected[j]!) < 1e-5, `${cases[i]!.join(' ')} ${label}`))
    })
    await classifier.close()
  })

  test('int32 ids (tf2onnx exports) and float16 or float64 logits are fed and read', async () => {
    const variants = [{ idType: 'int32' }, { logitsType: 'float16' }, { logitsType: 'float64' }, { idType: 'int32', extraInputs: ['token_type_ids'] }] as const
    for (const variant of variants) {
      const folder = writeTinyHfModel(path.join(dir, `types-${Object.values(variant).join('-')}`), { words: WORDS, labels: LABELS, maxLength: 8, ...variant })
      const classifier = await loadHfModel(folder.dir, { name: 'typed' })
      const [result] = await classifier.classifyBatch(['The acting was AWFUL'])
      const expected = referenceProbabilities(folder, ['the', 'act', '##ing', 'was', 'awful'])
      // Half-precision logits are exact to ~1e-3 of their size.
      const tolerance = 'logitsType' in variant && variant.logitsType === 'float16' ? 5e-3 : 1e-5
      LABELS.forEach((label, j) => assert.ok(Math.abs(result!.scores[label]! - expected[j]!) < tolerance, `${JSON.stringify(variant)} ${label}`))
      await classifier.close()
    }
  })

  test('the longest input is the smaller of model_max_length and max_position_embeddings', async () => {
    const limited = writeTinyHfModel(path.join(dir, 'positions'), { words: WORDS, labels: LABELS, maxLength: 16, positions: 8, config: { max_position_embeddings: 8 } })
    const classifier = await loadHfModel(limited.dir, { name: 'positions' })
    assert.equal(classifier.info.maxLength, 8)
    const [long] = await classifier.classifyBatch(['good bad movie great awful plot the was good bad'])
    const expected = referenceProbabilities(limited, ['good', 'bad', 'movie', 'great', 'awful', 'plot'])
    LABELS.forEach((label, j) => assert.ok(Math.abs(long!.scores[label]! - expected[j]!) < 1e-5, label))
    await classifier.close()
  })

  test('a multi-label model (problem_type) scores each label by its own sigmoid', async () => {
    const multi = writeTinyHfModel(path.join(dir, 'multi-label'), { words: WORDS, labels: LABELS, config: { problem_type: 'multi_label_classification' } })
    const classifier = await loadHfModel(multi.dir, { name: 'multi' })
    assert.equal(classifier.info.multiLabel, true)
    const [result] = await classifier.classifyBatch(['The acting was AWFUL'])
    const logits = referenceLogits(multi, ['the', 'act', '##ing', 'was', 'awful'])
    LABELS.forEach((label, j) => assert.ok(Math.abs(result!.scores[label]! - 1 / (1 + Math.exp(-logits[j]!))) < 1e-6, label))
    assert.equal(result!.label, LABELS[logits.indexOf(Math.max(...logits))])
    assert.equal(result!.confidence, result!.scores[result!.label])
    await classifier.close()
    const single = await loadHfModel(model.dir, { name: 'single' })
    assert.equal(single.info.multiLabel, false)
    await single.close()
  })

  test('broken folders are refused at load time, naming the file and the problem', async () => {
    const broken = (name: string, change: (dir: string) => void) => {
      const target = path.join(dir, name)
      writeTinyHfModel(target, { words: WORDS, labels: LABELS })
      change(target)
      return target
    }
    const cases: [string, RegExp][] = [
      [broken('no-tokenizer', (d) => fs.rmSync(path.join(d, 'tokenizer.json'))), /tokenizer\.json: file not found/],
      [broken('no-id2label', (d) => fs.writeFileSync(path.join(d, 'config.json'), '{"architectures": ["BertForSequenceClassification"]}')), /config\.json: no "id2label"/],
      [broken('bad-json', (d) => fs.writeFileSync(path.join(d, 'config.json'), '{"id2label": ')), /config\.json: not valid JSON/],
      [broken('not-onnx', (d) => fs.writeFileSync(path.join(d, 'model.onnx'), 'this is not a model')), /model\.onnx: not a model ONNX Runtime can load/],
      [broken('no-model', (d) => fs.rmSync(path.join(d, 'model.onnx'))), /model\.onnx: file not found/],
      [broken('wrong-output', (d) => writeTinyHfModel(d, { words: WORDS, labels: LABELS, outputName: 'scores' })), /model\.onnx: no output named "logits" \(outputs: scores\)/],
      [broken('label-mismatch', (d) => fs.writeFileSync(path.join(d, 'config.json'), '{"id2label": {"0": "a", "1": "b"}}')), /"logits" has 3 classes but config\.json id2label names 2/],
      [broken('no-external-data', (d) => {
        writeTinyHfModel(d, { words: WORDS, labels: LABELS, externalData: 'model.onnx_data' })
        fs.rmSync(path.join(d, 'model.onnx_data'))
      }), /model\.onnx: not a model ONNX Runtime can load \(.*External data path does not exist/],
      [broken('external-data-outside', (d) => writeTinyHfModel(d, { words: WORDS, labels: LABELS, externalData: '../outside.bin' })), /model\.onnx: not a model ONNX Runtime can load \(.*escapes model directory/],
      [broken('model-is-a-folder', (d) => {
        fs.rmSync(path.join(d, 'model.onnx'))
        fs.mkdirSync(path.join(d, 'model.onnx'))
      }), /model\.onnx: not a file/],
      [broken('unknown-input', (d) => writeTinyHfModel(d, { words: WORDS, labels: LABELS, extraInputs: ['position_ids'] })), /model\.onnx: unexpected inputs position_ids: only input_ids, attention_mask, token_type_ids are fed/],
      [broken('float-ids', (d) => writeTinyHfModel(d, { words: WORDS, labels: LABELS, idType: 'float32' })), /model\.onnx: input "input_ids" is float32: ids are fed as int64 or int32/],
      [broken('too-few-positions', (d) => writeTinyHfModel(d, { words: WORDS, labels: LABELS, maxLength: 16, positions: 8 })), /model\.onnx: fails on a text of 16 tokens, the longest it will be given \(.+\); if it takes fewer, set model_max_length/],
      [broken('regression', (d) => writeTinyHfModel(d, { words: WORDS, labels: LABELS, config: { problem_type: 'regression' } })), /config\.json: problem_type "regression" is not a classification/],
      [broken('not-a-tokenizer', (d) => fs.writeFileSync(path.join(d, 'tokenizer.json'), '{"vocab": {}}')), /tokenizer\.json: no "model" section/],
    ]
    for (const [folder, message] of cases) {
      await assert.rejects(loadHfModel(folder, { name: 'x' }), (error: unknown) => {
        assert.ok(error instanceof ModelLoadError, String(error))
        assert.match(error.message, message)
        assert.ok(error.message.startsWith(folder), error.message)
        return true
      })
    }
  })

  test('special tokens come first in the vocabulary', () => {
    assert.deepEqual(model.vocab.slice(0, 4), TOKENIZERS.wordpiece.specials)
  })
})

/**
 * BPE (RoBERTa-like, case-sensitive, `Ġ` marks a preceding space) and Unigram (XLM-R-like, `▁`
 * before every word) tokenizers: the expected segmentations are worked out by hand from the
 * vocabularies and merges in `fixtures/hf-tokenizers.ts`.
 */
describe('BPE and Unigram tokenizers', () => {
  const dir = tempDir()
  const CHARS = ['g', 'o', 'd', 'm', 'v', 'i', 'e', 'r', 'a', 't', 'w', 's', 'f', 'u', 'l', 'h', 'p', '!']
  const kinds = {
    bpe: {
      words: ['good', 'Ġmovie', 'Ġgreat', 'Ġawful', 'the', 'Ġthe', 'Ġplot', 'Ġwas', 'plot', 'Ġ', ...CHARS],
      cases: [
        ['good movie', ['good', 'Ġmovie']],
        ['the plot was awful', ['the', 'Ġplot', 'Ġwas', 'Ġawful']],
        ['plots!', ['plot', 's', '!']],
        // No merge builds "great" without the leading space: it stays in characters.
        ['great', ['g', 'r', 'e', 'a', 't']],
      ],
      // 'the plot was awful the plot was awful', cut to 8 with <s> and </s>. The second "the" is
      // Ġ + the, not Ġthe: merges apply by rank, and "t h", "th e" (listed for "the") outrank "Ġ t".
      long: ['the', 'Ġplot', 'Ġwas', 'Ġawful', 'Ġ', 'the'],
    },
    unigram: {
      words: ['▁good', '▁movie', '▁mov', 'ie', '▁great', '▁plot', '▁the', '▁was', '▁awful', '▁', ...CHARS],
      cases: [
        // ▁movie (-2) beats ▁mov + ie (-4).
        ['good movie', ['▁good', '▁movie']],
        ['the plot was awful', ['▁the', '▁plot', '▁was', '▁awful']],
        ['plots!', ['▁plot', 's', '!']],
        ['the great movies', ['▁the', '▁great', '▁movie', 's']],
      ],
      long: ['▁the', '▁plot', '▁was', '▁awful', '▁the', '▁plot'],
    },
  } as const

  for (const [kind, { words, cases, long: longTokens }] of Object.entries(kinds) as [keyof typeof kinds, (typeof kinds)[keyof typeof kinds]][]) {
    test(`${kind}: outputs match an independent computation, padded with the model's pad id`, async () => {
      const model = writeTinyHfModel(path.join(dir, kind), { words: [...words], labels: LABELS, maxLength: 8, tokenizer: kind })
      const classifier = await loadHfModel(model.dir, { name: kind })
      const results = await classifier.classifyBatch(cases.map(([text]) => text))
      results.forEach((result, i) => {
        const expected = referenceProbabilities(model, [...cases[i]![1]], ['<s>', '</s>'])
        LABELS.forEach((label, j) => assert.ok(Math.abs(result.scores[label]! - expected[j]!) < 1e-5, `${cases[i]![0]} ${label}`))
      })
      await classifier.close()

      const config = await readHfConfig(model.dir)
      assert.equal(config.padTokenId, 1)
      const encoder = new TokenEncoder(config.tokenizer, config.tokenizerConfig, config.maxLength, config.padTokenId)
      const batch = encoder.encodeBatch(['good movie', 'the plot was awful'])
      assert.deepEqual([...batch.inputIds.slice(0, batch.length)].map(Number), [0, model.vocab.indexOf(cases[0][1][0]), model.vocab.indexOf(cases[0][1][1]), 2, 1, 1])
      assert.deepEqual([...batch.attentionMask.slice(0, batch.length)].map(Number), [1, 1, 1, 1, 0, 0])
    })

    test(`${kind}: a long text keeps <s> and </s> around its first tokens`, async () => {
      const model = writeTinyHfModel(path.join(dir, `${kind}-long`), { words: [...words], labels: LABELS, maxLength: 8, tokenizer: kind })
      const classifier = await loadHfModel(model.dir, { name: kind })
      const text = 'the plot was awful the plot was awful'
      const [long] = await classifier.classifyBatch([text])
      const expected = referenceProbabilities(model, [...longTokens], ['<s>', '</s>'])
      LABELS.forEach((label, j) => assert.ok(Math.abs(long!.scores[label]! - expected[j]!) < 1e-5, label))
      await classifier.close()
    })
  }
})
