/**
 * The OpenAI-compatible routes through `inject()`, against the test LLM server of
 * `fixtures/openai-upstream.ts`: relaying, OpenAI's error shape, allow-lists, what reaches the
 * upstream, streaming, the audit record's tokens and the token usage API.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'
import type { Principal } from '../../src/keys/types.js'

const UPSTREAM_CREDENTIAL = 'Bearer upstream-only-secret-7c2d'

/** Registers the test server under several names, one per behaviour of the fixture. */
function llmSpecs(upstream: OpenAiUpstream): string {
  const auth = '&auth-header=Authorization&auth-env=TEST_LLM_KEY'
  return ['chat=', 'slow=', 'drop=', 'no-usage=', 'fail=', 'reject=', 'garbage=']
    .map((name) => `${name}${upstream.baseUrl}?model=${name === 'chat=' ? 'llama3:8b' : name.slice(0, -1)}${auth}`)
    .join('\n')
}

/** The data lines of an SSE payload. */
function events(payload: string): string[] {
  return payload
    .split('\n\n')
    .filter(Boolean)
    .map((event) => event.replace(/^data: /, ''))
}

describe('OpenAI-compatible routes', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance
  let key: string
  let keyId: string

  before(async () => {
    upstream = await startOpenAiUpstream()
    app = await buildTestApp({
      config: { llms: parseLlmSpecs(llmSpecs(upstream)), llmLimits: [{ name: 'day', limit: 100_000, windowMs: 86_400_000 }] },
      env: { TEST_LLM_KEY: UPSTREAM_CREDENTIAL },
    })
    ;({ key, id: keyId } = await createKey(app))
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  const post = (url: string, payload: unknown, headers: Record<string, string> = { authorization: `Bearer ${key}` }) =>
    app.inject({ method: 'POST', url, payload: payload as object, headers })

  test('a chat completion is relayed; the upstream sees its own credential and its model name, never the key', async () => {
    const before = upstream.requests.length
    const res = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 50 })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json()
    assert.equal(body.object, 'chat.completion')
    assert.equal(body.choices[0].message.content, 'w0 w1 w2 w3 w4')
    assert.deepEqual(body.usage, { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 })
    const seen = upstream.requests[before]!
    assert.equal(seen.headers.authorization, UPSTREAM_CREDENTIAL)
    assert.equal(seen.body.model, 'llama3:8b')
    assert.equal(seen.body.max_tokens, 50)
    assert.ok(!JSON.stringify(seen.headers).includes(key), 'the infergate key reached the upstream')
    assert.ok(!JSON.stringify(seen.body).includes(key))
    // Request and token limits in both header families.
    assert.match(String(res.headers['ratelimit-policy']), /"minute";q=60;w=60, "tokens-day";q=100000;w=86400;ig-unit=tokens/)
    assert.match(String(res.headers.ratelimit), /"tokens-day";r=\d+;t=\d+;ig-unit=tokens/)
    assert.equal(res.headers['x-ratelimit-limit-requests'], '60')
    assert.equal(res.headers['x-ratelimit-limit-tokens'], '100000')
    assert.ok(Number(res.headers['x-ratelimit-remaining-tokens']) < 100_000)
  })

  test('max_tokens is set upstream to --llm-max-tokens when the request gives none', async () => {
    const before = upstream.requests.length
    const res = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }] })
    assert.equal(res.statusCode, 200)
    assert.equal(upstream.requests[before]!.body.max_tokens, 1024)
  })

  test('completions and embeddings are relayed', async () => {
    const completion = await post('/v1/completions', { model: 'chat', prompt: 'Once upon', max_tokens: 3 })
    assert.equal(completion.statusCode, 200, completion.body)
    assert.equal(completion.json().choices[0].text, 'w0 w1 w2')
    const embedding = await post('/v1/embeddings', { model: 'chat', input: ['a', 'b'] })
    assert.equal(embedding.statusCode, 200, embedding.body)
    assert.equal(embedding.json().data.length, 2)
    assert.equal(embedding.json().usage.prompt_tokens, 7)
  })

  test('errors come in OpenAI shape: no key 401, bad key 403, unknown model 404, not allowed 403', async () => {
    const body = { model: 'chat', messages: [{ role: 'user', content: 'x' }] }
    const none = await post('/v1/chat/completions', body, {})
    assert.equal(none.statusCode, 401)
    assert.deepEqual(Object.keys(none.json().error).sort(), ['code', 'message', 'param', 'type'])
    assert.equal(none.json().error.code, 'missing_api_key')
    assert.equal(none.json().error.type, 'authentication_error')
    const bad = await post('/v1/chat/completions', body, { authorization: 'Bearer ig_not_a_key' })
    assert.equal(bad.statusCode, 403)
    assert.equal(bad.json().error.code, 'invalid_api_key')
    const unknown = await post('/v1/chat/completions', { ...body, model: 'gpt-9' })
    assert.equal(unknown.statusCode, 404)
    assert.equal(unknown.json().error.code, 'model_not_found')
    const { key: limited } = await createKey(app, { models: ['sentiment'] })
    const forbidden = await post('/v1/chat/completions', body, { authorization: `Bearer ${limited}` })
    assert.equal(forbidden.statusCode, 403)
    assert.equal(forbidden.json().error.code, 'model_forbidden')
  })

  test('bad input is a 4xx in OpenAI shape, never a 500, and reaches no upstream', async () => {
    const before = upstream.requests.length
    const cases: unknown[] = [
      {},
      { model: 'chat' },
      { model: 'chat', messages: [] },
      { model: 'chat', messages: 'hi' },
      { model: 5, messages: [{ role: 'user', content: 'x' }] },
      { model: 'ch\u0000at', messages: [{ role: 'user', content: 'x' }] },
      { model: 'x'.repeat(10_000), messages: [{ role: 'user', content: 'x' }] },
      { model: 'chat', messages: [{ role: 'user', content: 'x' }], max_tokens: 'many' },
      { model: 'chat', messages: [{ role: 'user', content: 'x' }], max_tokens: 1e12 },
      { model: 'chat', messages: [{ role: 'user', content: 'x' }], n: 0 },
      { model: 'chat', messages: [{ role: 'user', content: 'x' }], stream: 'yes' },
      { model: 'chat', messages: [{ content: 'x' }] },
      [1, 2],
    ]
    for (const payload of cases) {
      const res = await post('/v1/chat/completions', payload)
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${JSON.stringify(payload).slice(0, 80)} → ${res.statusCode}`)
      assert.equal(typeof res.json().error.message, 'string')
    }
    const broken = await app.inject({
      method: 'POST',
      url: '/v1/embeddings',
      payload: '{"model": "chat", "input": ',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    })
    assert.equal(broken.statusCode, 400)
    assert.equal(broken.json().error.code, 'invalid_json')
    assert.equal(upstream.requests.length, before)
  })

  test('a stream is relayed as SSE; the usage chunk infergate asked for is dropped unless the client asked', async () => {
    const before = upstream.requests.length
    const res = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'x' }], stream: true })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/event-stream/)
    const data = events(res.body)
    assert.equal(data.at(-1), '[DONE]')
    interface Chunk {
      object: string
      choices: { delta: { content?: string } }[]
    }
    const chunks = data.slice(0, -1).map((line) => JSON.parse(line) as Chunk)
    assert.ok(chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.choices.length === 1))
    assert.equal(chunks.map((chunk) => chunk.choices[0]!.delta.content ?? '').join(''), 'w0 w1 w2 w3 w4')
    assert.deepEqual(upstream.requests[before]!.body.stream_options, { include_usage: true })

    const asked = await post('/v1/chat/completions', {
      model: 'chat',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
      stream_options: { include_usage: true },
    })
    const last = JSON.parse(events(asked.body).at(-2)!)
    assert.deepEqual(last.choices, [])
    assert.deepEqual(last.usage, { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 })
  })

  test('an upstream that drops the connection mid-stream ends the stream with an OpenAI error event', async () => {
    const res = await post('/v1/chat/completions', { model: 'drop', messages: [{ role: 'user', content: 'x' }], stream: true })
    assert.equal(res.statusCode, 200)
    const data = events(res.body)
    assert.equal(data.length, 3, res.body)
    const error = JSON.parse(data.at(-1)!)
    assert.equal(error.error.code, 'upstream_error')
    assert.ok(!res.body.includes('[DONE]'))
  })

  test('an upstream that fails answers 502 in OpenAI shape, without its body, and costs nothing', async () => {
    const peek = () => app.services.tokens.peek({ keyId, owner: 'default' } as Principal)
    const before = (await peek()).decision.states[0]!.remaining
    const res = await post('/v1/chat/completions', { model: 'fail', messages: [{ role: 'user', content: 'x' }] })
    assert.equal(res.statusCode, 502)
    assert.equal(res.json().error.code, 'upstream_error')
    assert.ok(!res.body.includes('internal upstream failure'))
    assert.equal((await peek()).decision.states[0]!.remaining, before)
  })

  test("an answer that is not JSON is 502 upstream_error, and the upstream's body is not shown", async () => {
    const res = await post('/v1/chat/completions', { model: 'garbage', messages: [{ role: 'user', content: 'x' }] })
    assert.equal(res.statusCode, 502)
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'upstream_error')
    assert.ok(!res.body.includes('not JSON'))
  })

  test('the audit log and GET /v1/usage/tokens show tokens in and out per key and model', async () => {
    const { key: own, id } = await createKey(app)
    const auth = { authorization: `Bearer ${own}` }
    for (let i = 0; i < 2; i++) {
      const res = await post(
        '/v1/chat/completions',
        { model: 'chat', messages: [{ role: 'user', content: 'secret prompt text' }], max_tokens: 9 },
        auth,
      )
      assert.equal(res.statusCode, 200)
    }
    // No usage reported: the reservation stays charged and is what is recorded.
    const noUsage = await post(
      '/v1/chat/completions',
      { model: 'no-usage', messages: [{ role: 'user', content: 'abc' }], max_tokens: 20 },
      auth,
    )
    assert.equal(noUsage.statusCode, 200)
    await app.services.audit!.flush()
    const records = await app.services.auditStore.list({ keyId: id, kind: 'request' }, 10)
    assert.deepEqual(
      records.map((r) => [r.route, r.model, r.tokensIn, r.tokensOut]),
      [
        ['/v1/chat/completions', 'chat', 7, 5],
        ['/v1/chat/completions', 'chat', 7, 5],
        // 4 per message + 3 + "user" (4 bytes) + "abc" (3 bytes) = 14 prompt tokens reserved, and max_tokens.
        ['/v1/chat/completions', 'no-usage', 14, 20],
      ],
    )
    assert.ok(!JSON.stringify(records).includes('secret prompt text'))
    const usage = await app.inject({ method: 'GET', url: '/v1/usage/tokens', headers: auth })
    assert.equal(usage.statusCode, 200, usage.body)
    assert.deepEqual(
      usage
        .json<{ rows: Record<string, unknown>[] }>()
        .rows.map((row) => [row.key_id, row.model, row.requests, row.tokens_in, row.tokens_out]),
      [
        [id, 'chat', 2, 14, 10],
        [id, 'no-usage', 1, 14, 20],
      ],
    )
  })

  test("GET /v1/models answers infergate's list and OpenAI's list shape together", async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/models', headers: { authorization: `Bearer ${key}` } })
    assert.equal(res.statusCode, 200)
    const body = res.json<{ object: string; data: { id: string; object: string }[]; models: { name: string }[] }>()
    assert.equal(body.object, 'list')
    assert.deepEqual(
      body.data.map((model) => `${model.object}:${model.id}`),
      ['model:chat', 'model:slow', 'model:drop', 'model:no-usage', 'model:fail', 'model:reject', 'model:garbage'],
    )
    assert.equal(body.models[0]?.name, 'sentiment')
  })

  test("an upstream's 400 comes back as 400 with its message; X-API-Key is not forwarded either", async () => {
    const before = upstream.requests.length
    const res = await post('/v1/chat/completions', { model: 'reject', messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': key })
    assert.equal(res.statusCode, 400)
    assert.deepEqual(res.json<{ error: unknown }>().error, {
      message: "This model's maximum context length is 4096 tokens",
      type: 'invalid_request_error',
      param: null,
      code: 'bad_request',
    })
    assert.ok(!JSON.stringify(upstream.requests[before]!.headers).includes(key))
  })
})

describe('OpenAI-compatible routes: token limits and upstream failures', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance

  before(async () => {
    upstream = await startOpenAiUpstream()
    const specs = `chat=${upstream.baseUrl}\ngone=http://127.0.0.1:9/v1`
    app = await buildTestApp({ config: { llms: parseLlmSpecs(specs), llmLimits: [{ name: 'hour', limit: 300, windowMs: 3_600_000 }] } })
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  const ask = (key: string, model: string, maxTokens: number) =>
    app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model, messages: [{ role: 'user', content: 'abc' }], max_tokens: maxTokens },
      headers: { authorization: `Bearer ${key}` },
    })

  test('over the token limit: 429 rate_limited with Retry-After in OpenAI shape; larger than the limit: 422', async () => {
    const { key } = await createKey(app)
    // 14 prompt tokens + 250 reserved; the upstream reports 12 used: 288 left.
    const first = await ask(key, 'chat', 250)
    assert.equal(first.statusCode, 200)
    const second = await ask(key, 'chat', 280)
    assert.equal(second.statusCode, 429)
    assert.equal(second.json<{ error: { code: string; type: string } }>().error.code, 'rate_limited')
    assert.equal(second.json<{ error: { code: string; type: string } }>().error.type, 'rate_limit_error')
    assert.ok(Number(second.headers['retry-after']) >= 1)
    assert.equal(second.headers['x-ratelimit-limit-tokens'], '300')
    assert.equal(second.headers['x-ratelimit-remaining-tokens'], '288')
    // The refused request gave its request unit back: the next one sees 58 of 60 left, not 57.
    const huge = await ask(key, 'chat', 1000)
    assert.equal(huge.statusCode, 422)
    assert.match(huge.json<{ error: { message: string } }>().error.message, /reserves 1014 tokens/)
    const fits = await ask(key, 'chat', 200)
    assert.equal(fits.statusCode, 200)
    assert.equal(fits.headers['x-ratelimit-remaining-requests'], '58')
  })

  test("a key's own tokens-… limits replace --llm-limit for it, and are not counted as request limits", async () => {
    const { key } = await createKey(app, {
      limits: [
        { name: 'minute', limit: 60, windowMs: 60_000 },
        { name: 'tokens-hour', limit: 1000, windowMs: 3_600_000 },
      ],
    })
    const res = await ask(key, 'chat', 500)
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['ratelimit-policy'], '"minute";q=60;w=60, "tokens-hour";q=1000;w=3600;ig-unit=tokens')
    assert.equal(res.headers['x-ratelimit-limit-tokens'], '1000')
    assert.equal(res.headers['x-ratelimit-remaining-requests'], '59')
  })

  test("GET /v1/keys/{id} shows the token limits' state next to the request limits, without charging", async () => {
    const { key: admin } = await createKey(app, { scopes: ['admin'] })
    const { key, id } = await createKey(app, { owner: 'token-team' })
    const setOwner = await app.inject({
      method: 'PATCH',
      url: '/v1/owners/token-team',
      payload: { limits: ['tokens-day=5000/1d'] },
      headers: { authorization: `Bearer ${admin}` },
    })
    assert.equal(setOwner.statusCode, 200, setOwner.body)
    // 14 prompt tokens + 100 reserved, settled to the 12 the upstream reports.
    assert.equal((await ask(key, 'chat', 100)).statusCode, 200)
    for (let i = 0; i < 2; i++) {
      const res = await app.inject({ method: 'GET', url: `/v1/keys/${id}`, headers: { authorization: `Bearer ${admin}` } })
      assert.equal(res.statusCode, 200, res.body)
      const states = res.json<{ limit_state: { reset_seconds: number }[] }>().limit_state
      assert.deepEqual(
        states.map(({ reset_seconds: _reset, ...state }) => state),
        [
          { subject: 'key', unit: 'requests', name: 'minute', limit: 60, window: '1m', remaining: 59 },
          { subject: 'key', unit: 'tokens', name: 'tokens-hour', limit: 300, window: '1h', remaining: 288 },
          { subject: 'owner', unit: 'tokens', name: 'tokens-day', limit: 5000, window: '1d', remaining: 4988 },
        ],
      )
    }
  })

  test('a store failure while token credits are held gives the tokens back (a fault injected: the store cannot be broken for one call)', async (t) => {
    const { key, id } = await createKey(app)
    t.mock.method(app.services.tokenCredits, 'hold', async () => {
      throw new Error('the store failed')
    })
    const res = await ask(key, 'chat', 100)
    assert.equal(res.statusCode, 500)
    const { decision } = await app.services.tokens.peek({ keyId: id, owner: 'default' } as Principal)
    assert.equal(decision.states[0]!.remaining, 300)
  })

  test('an unreachable upstream is 503 upstream_unavailable and gives the tokens back', async () => {
    const { key, id } = await createKey(app)
    const res = await ask(key, 'gone', 100)
    assert.equal(res.statusCode, 503)
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'upstream_unavailable')
    assert.ok(res.headers['retry-after'])
    const { decision } = await app.services.tokens.peek({ keyId: id, owner: 'default' } as Principal)
    assert.equal(decision.states[0]!.remaining, 300)
  })

  test('an LLM named like a served model stops the start with one line (allow-lists and /ready name both alike)', async () => {
    await assert.rejects(
      () => buildTestApp({ config: { llms: parseLlmSpecs(`sentiment=${upstream.baseUrl}`) } }),
      /--llm sentiment: a model of that name is served already/,
    )
  })

  test('a credential variable that is not set stops the start with one line naming it', async () => {
    await assert.rejects(
      () =>
        buildTestApp({
          config: { llms: parseLlmSpecs(`x=${upstream.baseUrl}?auth-header=Authorization&auth-env=NOT_SET_ANYWHERE`) },
          env: {},
        }),
      /--llm x: the environment variable NOT_SET_ANYWHERE \(auth-env\) is not set/,
    )
  })
})
