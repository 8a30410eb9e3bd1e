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

describe('a client that leaves while a non-streaming answer is generated', () => {
  let upstream: OpenAiUpstream
  let app: FastifyInstance
  let port: number

  before(async () => {
    upstream = await startOpenAiUpstream()
    upstream.words = 20
    upstream.chunkDelayMs = 50 // the answer comes after 1 s
    app = await buildTestApp({
      config: {
        llms: parseLlmSpecs(`think=${upstream.baseUrl}`),
        llmLimits: [{ name: 'hour', limit: BUDGET, windowMs: 3_600_000 }],
        defaultLimits: [{ name: 'minute', limit: 1000, windowMs: 60_000 }],
      },
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as AddressInfo).port
  })
  after(async () => {
    await app.close()
    await upstream.close()
  })

  test('the upstream call is aborted, and the reservation stays charged and is recorded', async () => {
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
