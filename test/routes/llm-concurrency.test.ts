/**
 * Calls in flight to one LLM server are capped (`--llm …?max-concurrency=N&key-concurrency=M`):
 * one key cannot hold more than its share, so its long generations cannot starve other keys;
 * beyond the server's cap a call is refused at once. Refusals cost nothing, and a slot comes
 * back however its request ends (answered, or its client gone).
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { openChatCall, startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { eventually } from '../fixtures/webhook-receiver.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'

const body = { model: 'think', messages: [{ role: 'user', content: 'abc' }], max_tokens: 20 }

describe('calls in flight to an LLM server', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance

  before(async () => {
    upstream = await startOpenAiUpstream()
    upstream.words = 10
    upstream.chunkDelayMs = 40 // each answer takes ~0.4 s
    app = await buildTestApp({
      config: {
        llms: parseLlmSpecs(`think=${upstream.baseUrl}?max-concurrency=3&key-concurrency=2`),
        defaultLimits: [{ name: 'minute', limit: 1000, windowMs: 60_000 }],
      },
    })
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  const ask = (key: string) =>
    app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, payload: body })
  const minuteLeft = (headers: Record<string, unknown>) => /"minute";r=(\d+)/.exec(String(headers['ratelimit']))?.[1]

  test('a key holds at most its share, the server at most its cap; refusals are 429/503 at no cost, and the slots come back', async () => {
    const a = await createKey(app)
    const b = await createKey(app)
    const fromA = [ask(a.key), ask(a.key), ask(a.key)]
    // b asks once a's two calls are at the upstream: which of the two keys is first is then fixed.
    await eventually(() => upstream.requests.length === 2, "a's calls to reach the upstream")
    const answers = await Promise.all([...fromA, ask(b.key), ask(b.key)])
    // Which of a's three calls is refused depends on the order their keys were checked in (on
    // PostgreSQL, not the order sent): count, then look at the refused one.
    const [ofA, ofB] = [answers.slice(0, 3), answers.slice(3)]
    const sorted = (some: readonly LightMyRequestResponse[]) => some.map((answer) => answer.statusCode).sort((x, y) => x - y)
    assert.deepEqual(sorted(ofA), [200, 200, 429])
    assert.deepEqual(sorted(ofB), [200, 503])
    const keyShare = ofA.find((answer) => answer.statusCode === 429)!
    assert.equal(keyShare.json<{ error: { code: string } }>().error.code, 'concurrency_limited')
    assert.equal(keyShare.headers['retry-after'], '1')
    const serverFull = ofB.find((answer) => answer.statusCode === 503)!
    assert.equal(serverFull.json<{ error: { code: string } }>().error.code, 'server_busy')
    assert.equal(serverFull.headers['retry-after'], '1')
    assert.equal(upstream.requests.length, 3, 'a refused call reached the upstream')
    // Refused calls were not charged: a's next answer shows 2 units spent of 1000, b's 1.
    const again = await Promise.all([ask(a.key), ask(b.key)])
    assert.deepEqual(
      again.map((answer) => answer.statusCode),
      [200, 200],
    )
    assert.equal(minuteLeft(again[0].headers), '997')
    assert.equal(minuteLeft(again[1].headers), '998')
    assert.equal(app.services.llms.get('think')!.slots.active, 0)
  })

  test('a client that leaves gives its slot back', async () => {
    const { key } = await createKey(app)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const before = upstream.requests.length
    const leaving = Array.from({ length: 2 }, () => openChatCall(port, key, body))
    await eventually(() => upstream.requests.length === before + 2, 'both calls to reach the upstream')
    assert.equal((await ask(key)).statusCode, 429, 'the key holds its share while its calls run')
    const admin = (await createKey(app, { scopes: ['admin'] })).key
    const metrics = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': admin } })
    assert.match(metrics.body, /^infergate_llm_calls_in_flight\{model="think"\} 2$/m)
    for (const client of leaving) client.destroy()
    await eventually(() => app.services.llms.get('think')!.slots.active === 0, 'the slots to come back')
    assert.equal((await ask(key)).statusCode, 200)
  })
})

describe('max-concurrency and key-concurrency in --llm', () => {
  test('defaults 256 and half of it; out of range or a share above the cap stops the start', () => {
    const [plain] = parseLlmSpecs('x=http://127.0.0.1:1/v1')
    assert.deepEqual([plain!.maxConcurrency, plain!.keyConcurrency], [256, 128])
    const [odd] = parseLlmSpecs('x=http://127.0.0.1:1/v1?max-concurrency=5')
    assert.deepEqual([odd!.maxConcurrency, odd!.keyConcurrency], [5, 3])
    assert.throws(
      () => parseLlmSpecs('x=http://127.0.0.1:1/v1?max-concurrency=0'),
      /x: max-concurrency must be a whole number from 1 to 1024/,
    )
    assert.throws(() => parseLlmSpecs('x=http://127.0.0.1:1/v1?max-concurrency=1025'), /from 1 to 1024/)
    assert.throws(() => parseLlmSpecs('x=http://127.0.0.1:1/v1?key-concurrency=1.5'), /key-concurrency must be a whole number/)
    assert.throws(
      () => parseLlmSpecs('x=http://127.0.0.1:1/v1?max-concurrency=4&key-concurrency=5'),
      /x: key-concurrency must not exceed max-concurrency \(4\)/,
    )
  })
})
