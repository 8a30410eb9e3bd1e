/**
 * A client that leaves while the LLM server generates a non-streaming answer (whose headers come
 * only at its end) pays for the generation: otherwise a key could have the server generate, leave
 * just before the answer, and be charged nothing, as often as it liked.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { openChatCall, startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { eventually } from '../fixtures/webhook-receiver.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'
import type { Principal } from '../../src/keys/types.js'

const BUDGET = 10_000
// 14 prompt tokens (4 per message + 3 + "user" + "abc", by bytes) + max_tokens 86.
const RESERVED = 100
const body = { model: 'think', messages: [{ role: 'user', content: 'abc' }], max_tokens: 86 }

/** An OpenAI-compatible test server and infergate in front of it, listening; closed after the suite. */
function gateway(configure: (upstream: OpenAiUpstream) => void = () => {}) {
  const running = {} as { upstream: OpenAiUpstream; app: FastifyInstance; port: number }
  before(async () => {
    running.upstream = await startOpenAiUpstream()
    configure(running.upstream)
    running.app = await buildTestApp({
      config: {
        llms: parseLlmSpecs(`think=${running.upstream.baseUrl}`),
        llmLimits: [{ name: 'hour', limit: BUDGET, windowMs: 3_600_000 }],
        defaultLimits: [{ name: 'minute', limit: 1000, windowMs: 60_000 }],
      },
    })
    await running.app.listen({ host: '127.0.0.1', port: 0 })
    running.port = (running.app.server.address() as AddressInfo).port
  })
  after(async () => {
    await running.app.close()
    await running.upstream.close()
  })
  return running
}

describe('a client that leaves while a non-streaming answer is generated', () => {
  // The answer comes after 1 s.
  const running = gateway((upstream) => {
    upstream.words = 20
    upstream.chunkDelayMs = 50
  })

  test('the upstream call is aborted, and the reservation stays charged and is recorded', async () => {
    const { app, port, upstream } = running
    const { key, id } = await createKey(app)
    const client = openChatCall(port, key, body)
    await eventually(() => upstream.requests.length === 1, 'the upstream to receive the request')
    client.destroy()
    await eventually(() => upstream.requests[0]!.aborted, 'the upstream call to be aborted')

    const tokensLeft = async () =>
      (await app.services.tokens.peek({ keyId: id, owner: 'default' } as Principal)).decision.states[0]!.remaining
    await eventually(async () => (await tokensLeft()) === BUDGET - RESERVED, 'the reservation to stay charged', 3000)
    const recorded = async () => {
      await app.services.audit!.flush()
      return app.services.auditStore.list({ keyId: id, kind: 'request' }, 10)
    }
    await eventually(async () => (await recorded()).length > 0, 'the audit record', 3000)
    const records = await recorded()
    assert.deepEqual(
      records.map((r) => [r.route, r.outcome, r.tokensIn, r.tokensOut, r.cost]),
      [['/v1/chat/completions', 'aborted', 14, 86, 1]],
    )
  })
})

describe('a client that leaves while its tokens are being reserved', () => {
  const running = gateway()

  test('gets its tokens back, and the upstream never sees the call', async () => {
    const { app, port, upstream } = running
    const { key, id } = await createKey(app)
    // The reservation waits (as a Redis round trip can) until the client has gone.
    const tokens = app.services.tokens
    const reserve = tokens.reserve.bind(tokens)
    let reached = false
    let open = () => {}
    const opened = new Promise<void>((resolve) => (open = resolve))
    let reserved: Promise<unknown> = Promise.resolve()
    tokens.reserve = (...args: Parameters<typeof reserve>) => {
      reached = true
      const made = opened.then(() => reserve(...args))
      reserved = made
      return made
    }
    const client = openChatCall(port, key, body)
    await eventually(() => reached, 'the reservation to start')
    client.destroy()
    const recorded = async () => {
      await app.services.audit!.flush()
      return app.services.auditStore.list({ keyId: id, kind: 'request' }, 10)
    }
    await eventually(async () => (await recorded()).length > 0, 'the audit record', 3000)
    open()
    await reserved
    // What follows the reservation (the credits' hold, the call or not, the settling) has run.
    await new Promise((resolve) => setTimeout(resolve, 300))
    const left = (await app.services.tokens.peek({ keyId: id, owner: 'default' } as Principal)).decision.states[0]!.remaining
    assert.equal(left, BUDGET)
    assert.equal(upstream.requests.length, 0)
    assert.deepEqual(
      (await recorded()).map((r) => [r.outcome, r.tokensIn, r.cost]),
      [['aborted', null, 1]],
    )
  })
})
