/**
 * Remote models over kserve-v2 (Open Inference Protocol) and hf-inference (TEI and the Inference
 * Toolkit), against test servers that follow those wire formats (test/fixtures/upstreams.ts):
 * same contract as a local model, one upstream call per batch, the start-up probe's checks.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { ConfigError } from '../../src/config.js'
import { parseModelSpecs } from '../../src/models/spec.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import type { TestUpstream } from '../fixtures/upstreams.js'
import { KSERVE_MODEL, lexiconProbabilities, startUpstream, texts } from '../fixtures/upstreams.js'
import { buildTestApp, createKey } from '../helper.js'
import { predictText } from './remote-helpers.js'

const TEXTS = ['a wonderful film', 'an awful boring mess', 'good fun, the best', 'dull', 'it is fine', 'the worst, bad and awful']

interface Answer {
  label: string
  sentiment?: string
  confidence: number
  scores: Record<string, number>
}

function remoteApp(models: string, config: Record<string, unknown> = {}): Promise<FastifyInstance> {
  return buildTestApp({ config: { models: parseModelSpecs(models), ...config } })
}

async function predictBatch(app: FastifyInstance, key: string, model: string, batch: string[]) {
  const response = await app.inject({
    method: 'POST',
    url: `/v1/models/${model}/predict`,
    headers: { 'x-api-key': key },
    payload: { texts: batch },
  })
  assert.equal(response.statusCode, 200, response.body)
  return response.json<{ results: Answer[]; model: string }>().results
}

function assertLexicon(results: Answer[], batch: string[], labels: [string, string]): void {
  results.forEach((result, i) => {
    const [neg, pos] = lexiconProbabilities(batch[i]!)
    assert.ok(Math.abs(result.scores[labels[0]]! - neg) < 1e-6 && Math.abs(result.scores[labels[1]]! - pos) < 1e-6, batch[i])
    assert.equal(result.label, pos > neg ? labels[1] : labels[0], batch[i])
    assert.equal(result.confidence, Math.max(result.scores[labels[0]]!, result.scores[labels[1]]!))
  })
}

describe('kserve-v2', () => {
  let upstream: TestUpstream
  let app: FastifyInstance
  let key: string

  before(async () => {
    upstream = await startUpstream('kserve-v2')
    app = await remoteApp(
      `triton=${upstream.url}?protocol=kserve-v2&model=${KSERVE_MODEL}&output=logits&labels=negative,positive&max-concurrency=1,` +
        `tags=${upstream.url}?protocol=kserve-v2&model=${KSERVE_MODEL}&output=label&labels=negative,positive`,
      { maxJobTexts: 1000 },
    )
    key = (await createKey(app, { limits: parseRules(['100000/1m']) })).key
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  test('the start-up probe asked for readiness and metadata', () => {
    const paths = upstream.requests.slice(0, 2).map((r) => `${r.method} ${r.url}`)
    assert.deepEqual(paths, [`GET /v2/models/${KSERVE_MODEL}/ready`, `GET /v2/models/${KSERVE_MODEL}`])
  })

  test('listed as remote, with its protocol, URL for admins only', async () => {
    const admin = (await createKey(app, { scopes: ['admin', 'predict'] })).key
    const list = async (k: string) =>
      (await app.inject({ url: '/v1/models', headers: { 'x-api-key': k } }))
        .json<{ models: Record<string, unknown>[] }>()
        .models.find((m) => m.name === 'triton')
    assert.deepEqual(await list(key), {
      name: 'triton',
      task: 'text-classification',
      labels: ['negative', 'positive'],
      max_length: null,
      multi_label: false,
      source: 'remote',
      protocol: 'kserve-v2',
      available: true,
      default: false,
      cost: 1,
    })
    assert.equal((await list(admin))!.url, `${upstream.url}/`)
  })

  test('a batch request is one infer call: BYTES [n, 1] in, logits out, softmax answers', async () => {
    const before = upstream.requests.length
    const results = await predictBatch(app, key, 'triton', TEXTS)
    const calls = upstream.requests.slice(before)
    assert.equal(calls.length, 1)
    const sent = JSON.parse(calls[0]!.body) as {
      inputs: { name: string; shape: number[]; datatype: string; data: string[] }[]
      outputs: { name: string }[]
    }
    assert.deepEqual(sent.inputs, [{ name: 'text', shape: [TEXTS.length, 1], datatype: 'BYTES', data: TEXTS }])
    assert.deepEqual(sent.outputs, [{ name: 'logits' }])
    assertLexicon(results, TEXTS, ['negative', 'positive'])
    assert.equal(results[0]!.sentiment, 'positive', 'a negative/positive model answers the seed contract too')
  })

  test('concurrent requests are gathered into fewer upstream calls than requests', async () => {
    const before = upstream.requests.length
    const many = Array.from({ length: 24 }, (_, i) => TEXTS[i % TEXTS.length]!)
    const answers = await Promise.all(
      many.map((text) =>
        app.inject({ method: 'POST', url: '/v1/models/triton/predict', headers: { 'x-api-key': key }, payload: { text } }),
      ),
    )
    assert.ok(answers.every((a) => a.statusCode === 200))
    const calls = upstream.requests.slice(before)
    assert.ok(calls.length < many.length, `${calls.length} calls for ${many.length} requests`)
    assert.equal(
      calls.reduce((sum, call) => sum + texts(call), 0),
      many.length,
    )
  })

  test('a BYTES label output is read as a certain label', async () => {
    const results = await predictBatch(app, key, 'tags', TEXTS.slice(0, 2))
    assert.deepEqual(
      results.map((r) => [r.label, r.confidence, r.scores]),
      [
        ['positive', 1, { negative: 0, positive: 1 }],
        ['negative', 1, { negative: 1, positive: 0 }],
      ],
    )
  })

  test('an async job on a remote model runs to the end, in chunks', async () => {
    const jobTexts = Array.from({ length: 150 }, (_, i) => TEXTS[i % TEXTS.length]!)
    const created = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'x-api-key': key },
      payload: { model: 'triton', texts: jobTexts },
    })
    assert.equal(created.statusCode, 202, created.body)
    const { id } = created.json<{ id: string }>()
    let status = ''
    for (let i = 0; i < 500 && status !== 'succeeded'; i++) {
      status = (await app.inject({ url: `/v1/jobs/${id}`, headers: { 'x-api-key': key } })).json<{ status: string }>().status
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(status, 'succeeded')
    const page = (await app.inject({ url: `/v1/jobs/${id}?limit=150`, headers: { 'x-api-key': key } })).json<{
      results: { index: number; label: string }[]
    }>()
    assert.equal(page.results.length, 150)
    page.results.forEach((r) => {
      const [neg, pos] = lexiconProbabilities(jobTexts[r.index]!)
      assert.equal(r.label, pos > neg ? 'positive' : 'negative')
    })
  })

  test('a 400 from the server (wrong input shape) is 502 and does not open the breaker', async () => {
    const wrong = await remoteApp(
      `wrong=${upstream.url}?protocol=kserve-v2&model=${KSERVE_MODEL}&output=logits&labels=negative,positive&input-shape=n`,
    )
    try {
      const wrongKey = (await createKey(wrong)).key
      for (let i = 0; i < 7; i++) {
        const { status, code } = await predictText(wrong, wrongKey, 'wrong')
        assert.deepEqual([status, code], [502, 'upstream_error'])
      }
      const ready = (await wrong.inject({ url: '/ready' })).json<{ upstreams: Record<string, string> }>()
      assert.deepEqual(ready.upstreams, { wrong: 'closed' })
    } finally {
      await wrong.close()
    }
  })

  test('a tensor name the model does not have stops the start, even with optional=true', async () => {
    await assert.rejects(
      remoteApp(
        `bad=${upstream.url}?protocol=kserve-v2&model=${KSERVE_MODEL}&input=TEXT&output=logits&labels=negative,positive&optional=true`,
      ),
      (error: unknown) =>
        error instanceof ConfigError && /cannot load model "bad": .*the model has no input "TEXT" \(inputs: text\)/.test(error.message),
    )
    await assert.rejects(
      remoteApp(`bad=${upstream.url}?protocol=kserve-v2&model=${KSERVE_MODEL}&output=logits&labels=a,b,c`),
      /output "logits" has 2 scores per text but 3 labels were given/,
    )
  })
})

describe('hf-inference', () => {
  let tei: TestUpstream
  let toolkit: TestUpstream
  let app: FastifyInstance
  let key: string

  before(async () => {
    tei = await startUpstream('tei')
    toolkit = await startUpstream('toolkit')
    app = await remoteApp(`tei=${tei.url}/predict?protocol=hf-inference,hub=${toolkit.url}/?protocol=hf-inference&server=toolkit`)
    key = (await createKey(app)).key
  })
  after(async () => {
    await app.close()
    await tei.close()
    await toolkit.close()
  })

  test('TEI: a batch is [[text], ...] with truncate, labels learned at start, answers in label order', async () => {
    const models = (await app.inject({ url: '/v1/models', headers: { 'x-api-key': key } })).json<{
      models: { name: string; labels: string[] }[]
    }>().models
    assert.deepEqual(models.find((m) => m.name === 'tei')!.labels, ['NEGATIVE', 'POSITIVE'])
    const before = tei.requests.length
    const results = await predictBatch(app, key, 'tei', TEXTS.slice(0, 2))
    assert.deepEqual(JSON.parse(tei.requests[before]!.body), { inputs: [[TEXTS[0]], [TEXTS[1]]], truncate: true })
    assertLexicon(results, TEXTS.slice(0, 2), ['NEGATIVE', 'POSITIVE'])
    assert.deepEqual(Object.keys(results[0]!.scores), ['NEGATIVE', 'POSITIVE'])
    assert.equal(results[0]!.sentiment, 'positive')
  })

  test('TEI: a batch of two texts is not sent as one pair', async () => {
    const results = await predictBatch(app, key, 'tei', ['great', 'awful'])
    assert.deepEqual(
      results.map((r) => r.label),
      ['POSITIVE', 'NEGATIVE'],
    )
  })

  test('Inference Toolkit: a flat list with top_k null, every label scored', async () => {
    const before = toolkit.requests.length
    const results = await predictBatch(app, key, 'hub', TEXTS)
    assert.deepEqual(JSON.parse(toolkit.requests[before]!.body), { inputs: TEXTS, parameters: { top_k: null } })
    assertLexicon(results, TEXTS, ['negative', 'positive'])
  })

  test('labels given in &labels that the server does not have stop the start', async () => {
    await assert.rejects(
      remoteApp(`tei=${tei.url}/predict?protocol=hf-inference&labels=negative,positive`),
      /the server's labels \(NEGATIVE, POSITIVE\) are not those given in &labels \(negative, positive\)/,
    )
  })
})
