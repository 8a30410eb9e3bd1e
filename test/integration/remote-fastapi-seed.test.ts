/**
 * The course's real FastAPI service (`../shared/peers/fastapi-seed`, run by uvicorn) behind
 * infergate as a `seed` remote model: on the SST-2 dev sentences infergate answers exactly what
 * the service answers; the service only accepts its own key, which infergate sends and never
 * shows; killed mid-request, its callers get 502/503, never a 500 or a hang.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseModelSpecs } from '../../src/models/spec.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { readLabelledTsv } from '../../src/training/dataset.js'
import { SHARED_DIR, buildTestApp, createKey } from '../helper.js'
import type { FastapiSeed } from './fastapi-seed.js'
import { fastapiSeedUnavailable, startFastapiSeed } from './fastapi-seed.js'
import { auditRecords, capturedLogger } from './remote-helpers.js'

const DEV = path.join(SHARED_DIR, 'datasets', 'sst2', 'dev.tsv')
const UPSTREAM_KEY = 'fastapi-seed-secret-7c2d90'
const unavailable = fastapiSeedUnavailable() ?? (existsSync(DEV) ? undefined : `SST-2 dev set not found at ${DEV}`)

interface SeedAnswer {
  sentiment: string
  confidence: number
}

describe('the FastAPI reference service as a seed upstream', { skip: unavailable && `skipped: ${unavailable}` }, () => {
  let service: FastapiSeed
  let app: FastifyInstance
  let key: { key: string; id: string }
  const { logger, lines: logLines } = capturedLogger()

  before(async () => {
    service = await startFastapiSeed(UPSTREAM_KEY)
    app = await buildTestApp({
      logger,
      env: { SEED_API_KEY: UPSTREAM_KEY },
      config: {
        defaultModel: 'seed',
        models: parseModelSpecs(
          `seed=${service.url}/predict?protocol=seed&auth-header=X-API-Key&auth-env=SEED_API_KEY&breaker-cooldown=200`,
        ),
      },
    })
    key = await createKey(app, { limits: parseRules(['1000000/1m']) })
  })
  after(async () => {
    await app?.close()
    await service?.stop()
  })

  async function direct(text: string): Promise<SeedAnswer> {
    const response = await fetch(`${service.url}/predict?${new URLSearchParams({ text }).toString()}`, {
      method: 'POST',
      headers: { 'X-API-Key': UPSTREAM_KEY },
    })
    assert.equal(response.status, 200)
    return (await response.json()) as SeedAnswer
  }

  test('on the 872 SST-2 dev sentences, infergate answers exactly what the service answers', async () => {
    const sentences = (await readLabelledTsv(DEV)).map((example) => example.text)
    assert.equal(sentences.length, 872)
    const expected: SeedAnswer[] = []
    for (const sentence of sentences) expected.push(await direct(sentence))
    const got: SeedAnswer[] = []
    for (let i = 0; i < sentences.length; i += 128) {
      const batch = sentences.slice(i, i + 128)
      const response = await app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': key.key }, payload: { texts: batch } })
      assert.equal(response.statusCode, 200, response.body)
      got.push(...response.json<{ results: SeedAnswer[] }>().results)
    }
    assert.deepEqual(
      got.map((r) => [r.sentiment, r.confidence]),
      expected.map((r) => [r.sentiment, r.confidence]),
    )
    const single = await app.inject({
      method: 'POST',
      url: `/predict?text=${encodeURIComponent(sentences[0]!)}`,
      headers: { 'x-api-key': key.key },
    })
    assert.deepEqual(
      (({ sentiment, confidence }) => ({ sentiment, confidence }))(single.json<SeedAnswer>()),
      { sentiment: expected[0]!.sentiment, confidence: expected[0]!.confidence },
      'the reference client call (?text=) works unchanged',
    )
  })

  test('the service refuses infergate’s key: only its own credential, sent by infergate, gets through', async () => {
    const withOurKey = await fetch(`${service.url}/predict?text=fine`, { method: 'POST', headers: { 'X-API-Key': key.key } })
    assert.equal(withOurKey.status, 403, 'the service does not accept an infergate key')
    const through = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key.key } })
    assert.equal(through.statusCode, 200, 'so infergate sent the service its own key, not the caller’s')
  })

  test('the service’s key appears in no log line, audit record or model listing', async () => {
    const admin = await createKey(app, { scopes: ['admin', 'predict'] })
    const listing = (await app.inject({ url: '/v1/models', headers: { 'x-api-key': admin.key } })).body
    const seed = (JSON.parse(listing) as { models: { name: string; source: string; protocol?: string }[] }).models.find(
      (m) => m.name === 'seed',
    )
    assert.deepEqual([seed?.source, seed?.protocol], ['remote', 'seed'])
    await app.services.audit!.flush()
    const audit = JSON.stringify(await app.services.auditStore.list({}, 1_000_000))
    assert.ok(logLines.length > 0)
    for (const [where, text] of [
      ['/v1/models', listing],
      ['the audit log', audit],
      ['the logs', logLines.join('')],
    ]) {
      assert.ok(!text!.includes(UPSTREAM_KEY), `the upstream key appears in ${where}`)
    }
  })

  test('killed mid-request: callers get 502 or 503 with an audit record, and infergate keeps answering', async () => {
    const texts = Array.from({ length: 256 }, (_, i) => `a sentence number ${i} that is rather good`)
    const ids = ['fastapi-killed-1', 'fastapi-killed-2', 'fastapi-killed-3', 'fastapi-killed-4']
    const answers = ids.map((id) =>
      app.inject({ method: 'POST', url: '/predict', headers: { 'x-api-key': key.key, 'x-request-id': id }, payload: { texts } }),
    )
    // Kill it once the calls are under way (the upstream call counter moves), with most still to come.
    const admin = (await createKey(app, { scopes: ['admin'] })).key
    const calls = async () =>
      Number(
        /infergate_upstream_request_duration_seconds_count\{model="seed"\} (\d+)/.exec(
          (await app.inject({ url: '/metrics', headers: { 'x-api-key': admin } })).body,
        )?.[1] ?? 0,
      )
    const start = await calls()
    while ((await calls()) < start + 20) await new Promise((resolve) => setTimeout(resolve, 1))
    service.child.kill('SIGKILL')
    const responses = await Promise.all(answers)
    const records = await auditRecords(app, ids)
    assert.equal(records.length, ids.length)
    for (const response of responses) {
      const { code } = response.json<{ code: string }>()
      assert.ok(
        (response.statusCode === 502 && code === 'upstream_error') || (response.statusCode === 503 && code === 'upstream_unavailable'),
        `${response.statusCode} ${code}`,
      )
      const record = records.find((r) => r.requestId === response.headers['x-request-id'])!
      assert.deepEqual([record.status, record.outcome, record.cost], [response.statusCode, code, 256])
    }
    const after = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key.key } })
    assert.equal(after.statusCode, 503)
    assert.equal(after.json<{ code: string }>().code, 'upstream_unavailable')
    assert.ok(Number(after.headers['retry-after']) >= 1)
    assert.equal((await app.inject({ url: '/health' })).statusCode, 200)
  })
})
