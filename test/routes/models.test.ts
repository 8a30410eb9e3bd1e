/**
 * Several models at once: the built-in one and a Hugging Face–shaped folder served with
 * --model; /v1/models per key; keys restricted to some models.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseModelSpecs } from '../../src/models/spec.js'
import { referenceLogits, writeTinyHfModel } from '../fixtures/hf-model.js'
import { buildTestApp, createKey, tempDir } from '../helper.js'

const LABELS = ['anger', 'joy', 'sadness']
let app: FastifyInstance
let model: ReturnType<typeof writeTinyHfModel>
let tags: ReturnType<typeof writeTinyHfModel>

before(async () => {
  model = writeTinyHfModel(path.join(tempDir(), 'emotions'), { words: ['happy', 'sad', 'mad', 'day'], labels: LABELS })
  tags = writeTinyHfModel(path.join(tempDir(), 'tags'), {
    words: ['happy', 'sad', 'mad', 'day'],
    labels: LABELS,
    config: { problem_type: 'multi_label_classification' },
  })
  app = await buildTestApp({ config: { models: parseModelSpecs(`emotions=${model.dir}?max-batch=4&cost=3,tags=${tags.dir}`) } })
})
after(() => app.close())

const post = (url: string, key: string, payload: unknown) =>
  app.inject({ method: 'POST', url, headers: { 'x-api-key': key }, payload: payload as Record<string, unknown> })
const get = (url: string, key: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': key } })

describe('serving a Hugging Face folder next to the built-in model', () => {
  test('the named model answers with label and scores from its id2label, and no sentiment field', async () => {
    const { key } = await createKey(app)
    const response = await post('/v1/models/emotions/predict', key, { text: 'happy day' })
    assert.equal(response.statusCode, 200, response.body)
    const body = response.json()
    assert.equal(body.model, 'emotions')
    assert.deepEqual(Object.keys(body.scores).sort(), LABELS)
    assert.equal(body.sentiment, undefined)
    const ids = ['[CLS]', 'happy', 'day', '[SEP]'].map((t) => model.vocab.indexOf(t))
    const logits = model.bias.map((b, j) => ids.reduce((sum, id) => sum + model.weights[id]![j]!, b))
    const best = logits.indexOf(Math.max(...logits))
    assert.equal(body.label, LABELS[best])
  })

  test("a multi-label model answers each label's own probability (sigmoid), and says so in /v1/models", async () => {
    const { key } = await createKey(app)
    const body = (await post('/v1/models/tags/predict', key, { text: 'mad day' })).json()
    const logits = referenceLogits(tags, ['mad', 'day'])
    LABELS.forEach((label, j) => assert.ok(Math.abs(body.scores[label] - 1 / (1 + Math.exp(-logits[j]!))) < 1e-6, label))
    assert.equal(body.label, LABELS[logits.indexOf(Math.max(...logits))])
    const listed = (await get('/v1/models', key)).json().models as { name: string; multi_label: boolean }[]
    assert.deepEqual(
      listed.map((m) => [m.name, m.multi_label]),
      [
        ['sentiment', false],
        ['emotions', false],
        ['tags', true],
      ],
    )
  })

  test('/predict keeps using the default model', async () => {
    const { key } = await createKey(app)
    const body = (await post('/predict', key, { text: 'happy day' })).json()
    assert.equal(body.model, 'sentiment')
    assert.ok(body.sentiment)
  })

  test('/v1/models lists what a key may use; paths only for admin keys', async () => {
    const { key: all } = await createKey(app)
    const { key: admin } = await createKey(app, { scopes: ['admin', 'predict'] })
    const { key: restricted } = await createKey(app, { models: ['emotions'] })
    const listed = (await get('/v1/models', all)).json().models as Record<string, unknown>[]
    assert.deepEqual(
      listed.map((m) => m.name),
      ['sentiment', 'emotions', 'tags'],
    )
    assert.deepEqual(listed[1], {
      name: 'emotions',
      task: 'text-classification',
      labels: LABELS,
      max_length: 16,
      multi_label: false,
      source: 'huggingface',
      default: false,
      cost: 3,
    })
    assert.equal(listed[0]!.default, true)
    assert.equal(listed[0]!.cost, 1)
    const forAdmin = (await get('/v1/models', admin)).json().models as Record<string, unknown>[]
    assert.equal(forAdmin[1]!.path, model.dir)
    assert.deepEqual(
      ((await get('/v1/models', restricted)).json().models as { name: string }[]).map((m) => m.name),
      ['emotions'],
    )
  })

  test('a key restricted to some models gets 403 model_forbidden for the others, everywhere', async () => {
    const { key } = await createKey(app, { models: ['emotions'] })
    assert.equal((await post('/v1/models/emotions/predict', key, { text: 'sad' })).statusCode, 200)
    for (const [url, payload] of [
      ['/predict', { text: 'fine' }],
      ['/v1/models/sentiment/predict', { texts: ['fine'] }],
      ['/v1/jobs', { texts: ['fine'] }],
    ] as const) {
      const response = await post(url, key, payload)
      assert.equal(response.statusCode, 403, url)
      assert.equal(response.json().code, 'model_forbidden')
    }
    assert.equal((await post('/v1/jobs', key, { texts: ['happy'], model: 'emotions' })).statusCode, 202)
  })
})

describe('cost per model (issue 19)', () => {
  const left = (response: { headers: Record<string, unknown> }) => Number(/r=(\d+)/.exec(String(response.headers.ratelimit))?.[1])

  test('a text on a model of cost 3 takes 3 units, on predict and jobs alike; past a limit the batch is refused whole', async () => {
    const { key, id } = await createKey(app, { limits: [{ name: 'minute', limit: 20, windowMs: 60_000 }] })
    const first = await post('/v1/models/emotions/predict', key, { texts: ['happy day', 'sad day'] })
    assert.equal(first.statusCode, 200, first.body)
    assert.equal(left(first), 14)
    const job = await post('/v1/jobs', key, { texts: ['mad', 'day'], model: 'emotions' })
    assert.equal(job.statusCode, 202, job.body)
    assert.equal(left(job), 8)
    const tooMuch = await post('/v1/models/emotions/predict', key, { texts: ['a', 'b', 'c'] })
    assert.equal(tooMuch.statusCode, 429)
    const never = await post('/v1/models/emotions/predict', key, { texts: Array(7).fill('day') })
    assert.equal(never.statusCode, 422)
    assert.match(JSON.stringify(never.json().detail), /costs 21 units but the 'minute' limit allows 20/)
    const cheap = await post('/predict', key, { text: 'fine' })
    assert.equal(left(cheap), 7, 'the built-in model costs 1 per text')
    await app.services.audit!.flush()
    const { key: admin } = await createKey(app, { scopes: ['admin'] })
    const rows = (await get(`/v1/usage?bucket=day&key=${id}`, admin)).json<{ rows: { cost: number }[] }>().rows
    const cost = rows.reduce((sum, row) => sum + row.cost, 0)
    assert.equal(cost, 13, 'usage shows the units charged: 6 + 6 + 1')
  })

  test('--builtin-model-cost sets what a text on the built-in model costs; ?cost= outside 1 to 1,000,000 stops the start', async () => {
    const costly = await buildTestApp({ config: { builtinModelCost: 5 } })
    try {
      const { key } = await createKey(costly, { limits: [{ name: 'minute', limit: 100, windowMs: 60_000 }] })
      const answer = await costly.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': key }, payload: { texts: ['a', 'b'] } })
      assert.equal(answer.statusCode, 200)
      assert.equal(left(answer), 90)
      assert.equal((await costly.inject({ url: '/v1/models', headers: { 'x-api-key': key } })).json().models[0].cost, 5)
    } finally {
      await costly.close()
    }
    for (const bad of ['0', '1.5', '-1', '1000001', 'x']) {
      assert.throws(() => parseModelSpecs(`emotions=${model.dir}?cost=${bad}`), /cost must be from 1 to 1000000/)
      assert.throws(() => parseModelSpecs(`far=http://127.0.0.1:9/predict?protocol=seed&cost=${bad}`), /cost/)
    }
  })
})
