/**
 * The official `openai` npm SDK as the client, with only `baseURL` and `apiKey` changed, against
 * infergate on a real port in front of the test LLM server: chat, streaming (incremental, with
 * a client abort that stops the upstream, and an upstream dying mid-stream), embeddings, a 429
 * the SDK retries after `Retry-After`, a revoked key.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import OpenAI from 'openai'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('the openai SDK through infergate', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance
  let baseURL: string
  let client: OpenAI
  let apiKey: string

  before(async () => {
    upstream = await startOpenAiUpstream()
    const names = ['chat', 'slow', 'drop', 'big']
    app = await buildTestApp({
      config: { llms: parseLlmSpecs(names.map((name) => `${name}=${upstream.baseUrl}?model=${name}`).join('\n')) },
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    baseURL = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1`
    ;({ key: apiKey } = await createKey(app))
    client = new OpenAI({ baseURL, apiKey, maxRetries: 0 })
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  test('a chat completion', async () => {
    const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 })
    assert.equal(completion.choices[0]?.message.content, 'w0 w1 w2')
    assert.equal(completion.usage?.completion_tokens, 3)
  })

  test('a stream arrives chunk by chunk as the upstream produces it', async () => {
    upstream.words = 5
    const started = performance.now()
    const stream = await client.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'Hi' }], stream: true })
    const arrivals: number[] = []
    let text = ''
    for await (const chunk of stream) {
      arrivals.push(performance.now() - started)
      text += chunk.choices[0]?.delta.content ?? ''
    }
    assert.equal(text, 'w0 w1 w2 w3 w4')
    // 7 chunks 40 ms apart upstream: the first reached the SDK long before the last was written.
    assert.equal(arrivals.length, 7)
    assert.ok(arrivals.at(-1)! - arrivals[0]! >= 150, `chunks arrived together: ${arrivals.map(Math.round).join(', ')} ms`)
  })

  test('closing the stream on the client aborts the upstream request', async () => {
    upstream.words = 50
    const before = upstream.requests.length
    const stream = await client.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: 'Hi' }], stream: true })
    let chunks = 0
    // Leaving the loop early closes the SDK's connection (the SDK ends the iteration quietly).
    for await (const _ of stream) {
      if (++chunks === 2) break
    }
    assert.equal(chunks, 2)
    const seen = upstream.requests[before]!
    for (let waited = 0; !seen.aborted && waited < 2000; waited += 20) await delay(20)
    assert.equal(seen.aborted, true, 'the upstream kept generating for a client that left')
    upstream.words = 5
  })

  test('backpressure: while the client does not read, infergate stops reading the upstream', async (t) => {
    upstream.words = 2000 // 2,000 chunks of 32 KiB: 64 MiB if nothing held the upstream back
    const before = upstream.requests.length
    const response = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'big', messages: [{ role: 'user', content: 'Hi' }], stream: true, max_tokens: 5000 }),
    })
    const reader = response.body!.getReader()
    await reader.read()
    await delay(1000)
    const seen = upstream.requests[before]!
    const written = seen.written
    await delay(300)
    // Socket buffers hold some chunks (a few MiB on loopback); the rest waits for the reader.
    t.diagnostic(`${written} of 2002 chunks of 32 KiB written upstream while the client read one`)
    assert.equal(seen.written, written, 'the upstream kept writing while nobody read')
    assert.ok(written < 1000, `${written} of 2002 chunks were written while the client read none`)
    await reader.cancel()
    for (let waited = 0; !seen.aborted && waited < 2000; waited += 20) await delay(20)
    assert.equal(seen.aborted, true)
    upstream.words = 5
  })

  test('an upstream dying mid-stream raises an APIError in the SDK', async () => {
    const stream = await client.chat.completions.create({ model: 'drop', messages: [{ role: 'user', content: 'Hi' }], stream: true })
    await assert.rejects(
      async () => {
        for await (const _ of stream);
      },
      (error: unknown) => error instanceof OpenAI.APIError && /failed while streaming/.test(error.message),
    )
  })

  test('embeddings', async () => {
    const embeddings = await client.embeddings.create({ model: 'chat', input: ['one', 'two', 'three'] })
    assert.equal(embeddings.data.length, 3)
    assert.deepEqual(embeddings.data[2]?.embedding, [0.5, -0.25, 0.125])
  })

  test('a 429 is retried by the SDK after Retry-After', async () => {
    const { key } = await createKey(app, { limits: [{ name: 'second', limit: 1, windowMs: 1000 }] })
    const statuses: number[] = []
    const counting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      statuses.push(response.status)
      return response
    }
    const retrying = new OpenAI({ baseURL, apiKey: key, maxRetries: 2, fetch: counting })
    const ask = () => retrying.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 })
    await ask()
    const started = performance.now()
    const second = await ask()
    assert.equal(second.choices[0]?.message.content, 'w0 w1')
    assert.deepEqual(statuses, [200, 429, 200])
    assert.ok(performance.now() - started >= 500, 'the SDK did not wait for Retry-After')

    const once = new OpenAI({ baseURL, apiKey: key, maxRetries: 0 })
    await assert.rejects(
      () => once.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }] }),
      (error: unknown) => error instanceof OpenAI.RateLimitError && error.status === 429 && error.code === 'rate_limited',
    )
  })

  test('a revoked key is refused with PermissionDeniedError', async () => {
    const { key, id } = await createKey(app)
    const sdk = new OpenAI({ baseURL, apiKey: key, maxRetries: 0 })
    await sdk.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }] })
    await app.services.keys.revoke(id)
    await assert.rejects(
      () => sdk.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'Hi' }] }),
      (error: unknown) => error instanceof OpenAI.PermissionDeniedError && error.code === 'invalid_api_key',
    )
  })

  test('models.list reads the LLMs from GET /v1/models', async () => {
    const ids: string[] = []
    for await (const model of client.models.list()) ids.push(model.id)
    assert.deepEqual(ids, ['chat', 'slow', 'drop', 'big'])
  })
})
