/**
 * A client that leaves while the LLM server generates a non-streaming answer (whose headers come
 * only at its end) pays for the generation: otherwise a key could have the server generate, leave
 * just before the answer, and be charged nothing, as often as it liked. One that leaves while its
 * tokens are reserved gets them back; one that leaves while its usage is settled is charged the
 * usage (also one that leaves a stream after the usage came, before `[DONE]`), and in each case
 * its audit record shows what it was charged.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { openChatCall, startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { eventually } from '../fixtures/webhook-receiver.js'
import { serverSawClientLeave } from '../fixtures/raw-client.js'
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
        llms: parseLlmSpecs(`think=${running.upstream.baseUrl},slow=${running.upstream.baseUrl}?model=slow`),
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

/**
 * Sends the call, lets the token budget's `step` (reserve or settle) wait, as a Redis round trip
 * can, until the client has gone and the server has seen it; then lets it run. Resolves with the
 * key's id and its request records once the step has run.
 */
async function leaveDuring(running: ReturnType<typeof gateway>, step: 'reserve' | 'settle') {
  const { app, port } = running
  const { key, id } = await createKey(app)
  const tokens = app.services.tokens as unknown as Record<typeof step, (...args: unknown[]) => Promise<unknown>>
  const real = tokens[step].bind(tokens)
  let reached = false
  let open = () => {}
  const opened = new Promise<void>((resolve) => (open = resolve))
  let ran: Promise<unknown> = Promise.resolve()
  tokens[step] = (...args: unknown[]) => {
    reached = true
    ran = opened.then(() => real(...args))
    return ran
  }
  const client = openChatCall(port, key, body)
  await eventually(() => reached, `the ${step} step to start`)
  client.destroy()
  await serverSawClientLeave(app)
  open()
  await ran
  const recorded = async () => {
    await app.services.audit!.flush()
    return app.services.auditStore.list({ keyId: id, kind: 'request' }, 10)
  }
  await eventually(async () => (await recorded()).length > 0, 'the audit record', 3000)
  const tokensLeft = async () =>
    (await app.services.tokens.peek({ keyId: id, owner: 'default' } as Principal)).decision.states[0]!.remaining
  return { recorded, tokensLeft }
}

describe('a client that leaves while its tokens are being reserved', () => {
  const running = gateway()

  test('gets its tokens back, and the upstream never sees the call', async () => {
    const { recorded, tokensLeft } = await leaveDuring(running, 'reserve')
    // What follows the reservation (the credits' hold, the call or not, the settling) has run.
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(await tokensLeft(), BUDGET)
    assert.equal(running.upstream.requests.length, 0)
    assert.deepEqual(
      (await recorded()).map((r) => [r.outcome, r.tokensIn, r.cost]),
      [['aborted', null, 1]],
    )
  })
})

describe('a client that leaves while its tokens are being settled', () => {
  const running = gateway()

  test("is recorded with the tokens it was charged in the end: the upstream's usage", async () => {
    const { recorded, tokensLeft } = await leaveDuring(running, 'settle')
    const used = { in: running.upstream.promptTokens, out: running.upstream.words }
    assert.equal(await tokensLeft(), BUDGET - used.in - used.out, 'the budget is charged the usage')
    assert.deepEqual(
      (await recorded()).map((r) => [r.outcome, r.tokensIn, r.tokensOut, r.cost]),
      [['aborted', used.in, used.out, 1]],
      'the record says the same',
    )
  })
})

describe('a client that leaves a stream once its usage has come, before [DONE]', () => {
  // The "slow" model waits 100 ms before each event: [DONE] comes 100 ms after the usage.
  const running = gateway((upstream) => {
    upstream.chunkDelayMs = 100
  })

  test('is recorded with that usage, as its budget is charged', async () => {
    const { app, port, upstream } = running
    const { key, id } = await createKey(app)
    const client = openChatCall(port, key, { ...body, model: 'slow', stream: true, stream_options: { include_usage: true } })
    const [response] = (await once(client, 'response')) as [IncomingMessage]
    let text = ''
    await new Promise<void>((resolve) =>
      response.on('data', (chunk: Buffer) => {
        text += chunk.toString()
        if (/"usage":\{/.test(text)) resolve()
      }),
    )
    assert.doesNotMatch(text, /\[DONE\]/)
    client.destroy()
    const recorded = async () => {
      await app.services.audit!.flush()
      return app.services.auditStore.list({ keyId: id, kind: 'request' }, 10)
    }
    await eventually(async () => (await recorded()).length > 0, 'the audit record', 3000)
    const used = { in: upstream.promptTokens, out: upstream.words }
    const tokensLeft = async () =>
      (await app.services.tokens.peek({ keyId: id, owner: 'default' } as Principal)).decision.states[0]!.remaining
    await eventually(async () => (await tokensLeft()) === BUDGET - used.in - used.out, 'the budget to be charged the usage', 3000)
    assert.deepEqual(
      (await recorded()).map((r) => [r.outcome, r.tokensIn, r.tokensOut, r.cost]),
      [['aborted', used.in, used.out, 1]],
      'the record says the same',
    )
  })
})
