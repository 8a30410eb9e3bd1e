/** A client that hangs up before the answer still leaves its audit record (status 499, aborted). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { TextClassifier } from '../../src/models/types.js'
import { buildTestApp, builtinModel, createKey } from '../helper.js'
import { connectAndSend } from '../fixtures/raw-client.js'

const QUERY = (key: string) => `POST /predict?text=fine HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nX-Request-Id: gone-early\r\n\r\n`
// A whole JSON body, then the client leaves: Fastify's onRequestAbort does not fire for it.
const JSON_BODY = (key: string) =>
  `POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nX-Request-Id: gone-early\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"text":"fine"}`

/** Waits (5 s at most) until the server has queued an audit record: it does so as soon as it sees the client leave. */
async function recordQueued(app: FastifyInstance): Promise<void> {
  const until = Date.now() + 5000
  while (app.services.audit!.depth === 0) {
    assert.ok(Date.now() < until, 'no audit record within 5 s of the client leaving')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** The request's one audit record says it was abandoned (499, aborted), by whom and at what cost. */
async function assertAborted(app: FastifyInstance, requestId: string, expected: { keyId: string; cost: number }): Promise<void> {
  await app.services.audit!.flush()
  const records = (await app.services.auditStore.list({ kind: 'request' }, 10)).filter((r) => r.requestId === requestId)
  assert.equal(records.length, 1)
  assert.equal(records[0]!.outcome, 'aborted')
  assert.equal(records[0]!.status, 499)
  assert.equal(records[0]!.keyId, expected.keyId)
  assert.equal(records[0]!.cost, expected.cost)
}

for (const [name, request] of [
  ['the text in the query', QUERY],
  ['a JSON body sent whole', JSON_BODY],
] as const)
  test(`a request abandoned by its client is recorded as aborted: ${name}`, async () => {
    const real = await builtinModel()
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    let reached = false
    const slow: TextClassifier = {
      ...real,
      classifyBatch: async (texts) => {
        reached = true
        await held
        return real.classifyBatch(texts)
      },
    }
    const app = await buildTestApp({ models: [slow] })
    try {
      const { key, id } = await createKey(app)
      const socket = await connectAndSend(app, request(key))
      while (!reached) await new Promise((resolve) => setTimeout(resolve, 5))
      socket.destroy()
      // The abort is recorded as soon as the server sees the connection close...
      await recordQueued(app)
      // ...and the model answers only afterwards, when the answer has nowhere to go.
      release()
      await assertAborted(app, 'gone-early', { keyId: id, cost: 1 })
    } finally {
      release()
      await app.close()
    }
  })

test('a request abandoned while its body is still arriving is recorded as aborted, at no cost', async () => {
  const app = await buildTestApp({ models: [await builtinModel()] })
  try {
    const { key, id } = await createKey(app)
    const socket = await connectAndSend(
      app,
      `POST /predict HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nX-Request-Id: gone-mid-body\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"text":"fi`,
    )
    // Time for the server to take the request (its key is checked at onRequest) and wait for the rest of the body.
    await new Promise((resolve) => setTimeout(resolve, 200))
    socket.destroy()
    await recordQueued(app)
    await assertAborted(app, 'gone-mid-body', { keyId: id, cost: 0 })
  } finally {
    await app.close()
  }
})
