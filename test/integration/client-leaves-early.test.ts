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
import { AuditStore } from '../../src/audit/store.js'
import { openDatabase } from '../../src/db/database.js'
import { buildTestApp, builtinModel, createKey, tempDir } from '../helper.js'
import { connectAndSend, serverSawClientLeave } from '../fixtures/raw-client.js'
import { eventually } from '../fixtures/webhook-receiver.js'

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

/**
 * Sends `bytes` on a raw connection, waits until the request reaches `hold`, then hangs up and,
 * once the server has seen the connection close, lets the held call go on.
 */
async function leaveWhileHeld(app: FastifyInstance, bytes: string, hold: ReturnType<typeof gate>): Promise<void> {
  const socket = await connectAndSend(app, bytes)
  await eventually(() => hold.reached, 'the request to reach the held store call', 5000)
  socket.destroy()
  await serverSawClientLeave(app)
  await new Promise((resolve) => setTimeout(resolve, 20))
  hold.open()
}

async function abandonedRecord(app: FastifyInstance, requestId: string) {
  await eventually(() => app.services.audit!.depth > 0, 'the abandoned request to be recorded', 5000)
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

/** Jobs whose client leaves while the store takes them: the record waits for the store's answer. */
const leftWhileStored = [
  // The key's backlog holds 2 texts: the store refuses the job of 3, after the charge.
  { what: 'a job the store refuses', backlog: 2, cost: 0, stored: 0, left: 'r=99' },
  { what: 'a job the store takes', backlog: 1000, cost: 3, stored: 1, left: 'r=96' },
]

for (const { what, backlog, cost, stored, left } of leftWhileStored) {
  test(`${what} after its client left is recorded with the charge that stayed (${cost})`, async () => {
    const app = await buildTestApp({ models: [await builtinModel()], config: { maxQueuedTextsPerKey: backlog } })
    try {
      const client = await createKey(app, { limits: parseRules(['100/1m']) })
      const hold = gate()
      delay(app.services.jobs, 'create', hold)
      await leaveWhileHeld(app, jobRequest(client.key, 'left-while-stored'), hold)
      const record = await abandonedRecord(app, 'left-while-stored')
      assert.equal(record.status, 499)
      assert.equal(record.cost, cost)
      const list = await app.inject({ method: 'GET', url: '/v1/jobs', headers: { 'x-api-key': client.key } })
      assert.equal(list.json().jobs.length, stored)
      await new Promise((resolve) => setTimeout(resolve, 50))
      const next = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': client.key } })
      assert.match(String(next.headers['ratelimit']), new RegExp(`"minute";${left};`))
    } finally {
      await app.close()
    }
  })
}

test('at shutdown, a request whose charge is still pending is recorded before the audit log closes', async () => {
  const dataDir = tempDir()
  const app = await buildTestApp({ models: [await builtinModel()], config: { dataDir, databaseUrl: '' } })
  const client = await createKey(app, { limits: parseRules(['100/1m']) })
  const hold = gate()
  delay(app.services.jobs, 'create', hold)
  const socket = await connectAndSend(app, jobRequest(client.key, 'held-at-shutdown'))
  await eventually(() => hold.reached, 'the request to reach the held store call', 5000)
  socket.destroy()
  await serverSawClientLeave(app)
  // The store call never comes back before the server closes: the record is written with what is known.
  await app.close()
  hold.open()
  const db = await openDatabase({ dataDir })
  try {
    const records = (await new AuditStore(db).list({ kind: 'request' }, 20)).filter((r) => r.requestId === 'held-at-shutdown')
    assert.deepEqual(
      records.map((r) => [r.status, r.outcome, r.cost]),
      [[499, 'aborted', 3]],
    )
  } finally {
    await db.close()
  }
})
