/**
 * A client that leaves while its request waits on a shared store (the concurrency gate, the rate
 * limiter: Redis round trips in production) does not leave a lease held, a charge with no audit
 * record, or a job stored for nobody. The waits are made long by wrapping the app's own gate and
 * limiter (a timing fault Redis cannot be made to show on demand without pausing every test).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, builtinModel, createKey } from '../helper.js'
import { connectAndSend } from '../fixtures/raw-client.js'

/** A promise the test opens by hand, and whether anything waits on it yet. */
function gate() {
  let open = () => {}
  const opened = new Promise<void>((resolve) => (open = resolve))
  const state = { reached: false, open, opened }
  return state
}

/** Makes `object[method]` wait for `hold` to open before it runs (the real method still runs). */
function delay<T extends object, K extends keyof T>(object: T, method: K, hold: ReturnType<typeof gate>): void {
  const real = (object[method] as (...args: unknown[]) => unknown).bind(object)
  ;(object as Record<K, unknown>)[method] = async (...args: unknown[]) => {
    hold.reached = true
    await hold.opened
    return real(...args)
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!check()) {
    assert.ok(Date.now() < deadline, `${what} within 5 s`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Sends `bytes` on a raw connection, waits until the request reaches `hold`, then hangs up and waits for its audit record. */
async function leaveWhileHeld(app: FastifyInstance, bytes: string, hold: ReturnType<typeof gate>): Promise<void> {
  const socket = await connectAndSend(app, bytes)
  await until(() => hold.reached, 'the request reached the held store call')
  socket.destroy()
  await until(() => app.services.audit!.depth > 0, 'the abandoned request was recorded')
  hold.open()
}

async function abandonedRecord(app: FastifyInstance, requestId: string) {
  await app.services.audit!.flush()
  const records = (await app.services.auditStore.list({ kind: 'request' }, 20)).filter((r) => r.requestId === requestId)
  assert.equal(records.length, 1)
  return records[0]!
}

const predictRequest = (key: string, id: string) =>
  `POST /predict?text=fine HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nX-Request-Id: ${id}\r\n\r\n`

test('a concurrency lease taken after the client left is given back at once', async () => {
  const app = await buildTestApp({ models: [await builtinModel()] })
  try {
    const client = await createKey(app, { limits: parseRules(['100/1m']) })
    await app.services.keys.update(client.id, { concurrency: 1 })
    const hold = gate()
    delay(app.services.concurrency, 'acquire', hold)
    await leaveWhileHeld(app, predictRequest(client.key, 'left-at-gate'), hold)
    // The gate answers only now, for a request already finished: its one lease must not stay taken.
    hold.reached = false
    const next = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': client.key } })
    assert.equal(next.statusCode, 200, next.body)
    assert.match(String(next.headers['ratelimit']), /"concurrency";r=0/)
    const again = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': client.key } })
    assert.equal(again.statusCode, 200, again.body)
    const record = await abandonedRecord(app, 'left-at-gate')
    assert.equal(record.status, 499)
    assert.equal(record.cost, 0)
  } finally {
    await app.close()
  }
})

const jobRequest = (key: string, id: string) => {
  const body = JSON.stringify({ texts: ['good', 'bad', 'fine'] })
  return `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${key}\r\nX-Request-Id: ${id}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

type AbandonedRecord = Awaited<ReturnType<typeof abandonedRecord>>

/** Requests whose client leaves while the limiter charges them, and what must not have happened to each. */
const leftAtCharge = [
  {
    what: 'a prediction',
    bytes: predictRequest,
    neverRun: (record: AbandonedRecord) => {
      assert.equal(record.texts, null, 'the model never saw the text')
      return Promise.resolve()
    },
  },
  {
    what: 'a job',
    bytes: jobRequest,
    neverRun: async (_record: AbandonedRecord, app: FastifyInstance, key: string) => {
      const list = await app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-api-key': key } })
      assert.equal(list.statusCode, 200, list.body)
      assert.deepEqual(list.json().jobs, [], 'no job was stored')
    },
  },
]

for (const { what, bytes, neverRun } of leftAtCharge) {
  test(`${what} whose client left while it was being charged is given its units back and never runs`, async () => {
    const app = await buildTestApp({ models: [await builtinModel()] })
    try {
      const client = await createKey(app, { limits: parseRules(['100/1m']) })
      const hold = gate()
      delay(app.services.limiter, 'consumeAll', hold)
      await leaveWhileHeld(app, bytes(client.key, 'left-at-charge'), hold)
      const record = await abandonedRecord(app, 'left-at-charge')
      assert.equal(record.status, 499)
      assert.equal(record.outcome, 'aborted')
      assert.equal(record.cost, 0)
      // The units the limiter took once the client was gone are back: the next request sees 99 left, not 98.
      hold.reached = false
      await new Promise((resolve) => setTimeout(resolve, 50))
      await neverRun(record, app, client.key)
      const next = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': client.key } })
      assert.equal(next.statusCode, 200, next.body)
      assert.match(String(next.headers['ratelimit']), /"minute";r=99;/)
    } finally {
      await app.close()
    }
  })
}
