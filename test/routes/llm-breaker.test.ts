/**
 * A circuit breaker per LLM upstream (`src/llm/health.ts`, the remote models' breaker), against
 * the test LLM server: consecutive failures open it, requests are then refused with 503 and
 * Retry-After without reaching the server or costing anything, a failed probe keeps it open, a
 * successful probe (`GET /v1/models`) closes it; `/ready` and `/metrics` show each LLM's state.
 * Another LLM on its own breaker is not affected, and a refusal of one request (400) opens nothing.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { eventually } from '../fixtures/webhook-receiver.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'

const COOLDOWN_MS = 300

/** The test LLM server under three names: one that answers, one that fails (500), one that refuses (400). */
async function breakerApp(upstream: OpenAiUpstream): Promise<FastifyInstance> {
  const breaker = `breaker-failures=2&breaker-cooldown=${COOLDOWN_MS}`
  const specs = [
    `chat=${upstream.baseUrl}?model=llama3:8b`,
    `fail=${upstream.baseUrl}?model=fail&${breaker}`,
    `reject=${upstream.baseUrl}?model=reject&${breaker}`,
  ]
  return buildTestApp({
    config: { llms: parseLlmSpecs(specs.join('\n')), defaultLimits: [{ name: 'minute', limit: 1000, windowMs: 60_000 }] },
  })
}

describe('LLM upstream circuit breaker', () => {
  const keys = { key: '', admin: '' }
  let upstream: OpenAiUpstream
  let app: FastifyInstance
  before(async () => {
    app = await breakerApp((upstream = await startOpenAiUpstream()))
    keys.key = (await createKey(app)).key
    keys.admin = (await createKey(app, { scopes: ['admin'] })).key
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  const ask = (model: string) =>
    app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model, messages: [{ role: 'user', content: 'x' }], max_tokens: 5 },
      headers: { authorization: `Bearer ${keys.key}` },
    })
  const ready = async () => (await app.inject({ method: 'GET', url: '/ready' })).json<{ upstreams: Record<string, string> }>().upstreams
  const metrics = async () => (await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': keys.admin } })).body

  test('failures open it; open, requests are 503 with Retry-After, reach no server and cost nothing; a probe closes it', async () => {
    assert.deepEqual(await ready(), { chat: 'closed', fail: 'closed', reject: 'closed' })
    const sent = upstream.requests.length
    assert.equal((await ask('fail')).statusCode, 502)
    assert.equal((await ask('fail')).statusCode, 502)
    assert.equal(upstream.requests.length, sent + 2)
    assert.equal((await ready()).fail, 'open')

    const refused = await ask('fail')
    assert.equal(refused.statusCode, 503)
    const error = refused.json<{ error: { code: string; type: string; message: string } }>().error
    assert.deepEqual([error.code, error.type], ['upstream_unavailable', 'server_error'])
    assert.match(error.message, /unavailable: its server keeps failing/)
    assert.ok(Number(refused.headers['retry-after']) >= 1)
    assert.equal(upstream.requests.length, sent + 2, 'an open breaker sends nothing upstream')
    // Refused before the charge (and the two failed calls gave their unit back): nothing used.
    assert.match(String(refused.headers.ratelimit), /^"minute";r=1000;/)

    // Other LLMs are on breakers of their own.
    assert.equal((await ask('chat')).statusCode, 200)
    assert.deepEqual(await ready(), { chat: 'closed', fail: 'open', reject: 'closed' })
    const open = await metrics()
    assert.match(open, /infergate_upstream_breaker_state\{model="fail"\} 2/)
    assert.match(open, /infergate_upstream_breaker_state\{model="chat"\} 0/)
    assert.match(open, /infergate_upstream_breaker_opened_total\{model="fail"\} 1/)
    assert.match(open, /infergate_upstream_errors_total\{model="fail",kind="status"\} 2/)
    assert.match(open, /infergate_upstream_errors_total\{model="fail",kind="breaker_open"\} 1/)

    // A failed probe keeps it open (and doubles the wait); a successful one closes it.
    upstream.modelsStatus = 503
    await eventually(() => upstream.probes >= 1, 'a first probe', 5000)
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal((await ready()).fail, 'open')
    assert.equal((await ask('fail')).statusCode, 503)
    upstream.modelsStatus = 200
    await eventually(async () => (await ready()).fail === 'closed', 'the breaker closed by a probe', 5000)
    assert.ok(upstream.probes >= 2)
    assert.match(await metrics(), /infergate_upstream_breaker_state\{model="fail"\} 0/)
    // Closed: requests reach the server again (which still fails them).
    assert.equal((await ask('fail')).statusCode, 502)
    assert.equal(upstream.requests.length, sent + 4)
  })

  test("an upstream's refusal of one request (400) does not open the breaker", async () => {
    for (let i = 0; i < 4; i++) assert.equal((await ask('reject')).statusCode, 400)
    assert.equal((await ready()).reject, 'closed')
  })

  test('breaker settings out of range are refused at start with a readable message', () => {
    for (const [option, message] of [
      ['breaker-failures=0', /breaker-failures must be a whole number from 1 to 1000/],
      ['breaker-failures=1.5', /breaker-failures must be a whole number from 1 to 1000/],
      ['breaker-cooldown=99', /breaker-cooldown must be a whole number from 100 to 3600000/],
      ['breaker-cooldown=1e9', /breaker-cooldown must be a whole number from 100 to 3600000/],
    ] as const) {
      assert.throws(() => parseLlmSpecs(`x=${upstream.baseUrl}?${option}`), message)
    }
  })
})
