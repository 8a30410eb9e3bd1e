/**
 * Clients that hang up at every moment of a request — while it is checked, while its job is
 * stored, just as its answer is written — each leave at most one audit record (one exactly once the server read them), charged what
 * their work cost, and no concurrency lease behind.
 */
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import net from 'node:net'
import { test } from 'node:test'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, builtinModel, createKey } from '../helper.js'

const SENDS = 200

test('every abandoned request leaves one audit record, its cost matches the charge, and no lease stays taken', async () => {
  const app = await buildTestApp({ models: [await builtinModel()] })
  try {
    const client = await createKey(app, { limits: parseRules(['100000/1m']) })
    await app.services.keys.update(client.id, { concurrency: 50 })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const { port } = app.server.address() as AddressInfo
    const body = JSON.stringify({ texts: ['good', 'bad', 'fine'] })
    const send = (i: number) =>
      new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(
            `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nX-API-Key: ${client.key}\r\nX-Request-Id: leave-${i}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
          )
          // Hang up after 0-4 ms, or as soon as the first byte of the answer arrives.
          if (i % 6 === 5) socket.once('data', () => socket.resetAndDestroy())
          else setTimeout(() => socket.resetAndDestroy(), i % 5)
        })
        socket.on('close', () => resolve())
        socket.on('error', () => {})
      })
    for (let i = 0; i < SENDS; i += 20) await Promise.all(Array.from({ length: 20 }, (_, j) => send(i + j)))
    await new Promise((resolve) => setTimeout(resolve, 500))
    await app.services.audit!.flush()
    const records = (await app.services.auditStore.list({ kind: 'request' }, 1000)).filter((r) => r.requestId?.startsWith('leave-'))
    const perRequest = new Map<string, number>()
    for (const record of records) perRequest.set(record.requestId!, (perRequest.get(record.requestId!) ?? 0) + 1)
    // A request reset before the server read it was never seen; the others are all here.
    assert.ok(records.length >= SENDS / 10, `only ${records.length} of ${SENDS} requests were seen`)
    assert.ok(
      [...perRequest.values()].every((n) => n === 1),
      'a request with more than one record',
    )
    // What the audit log says was charged is what the limiter holds.
    const audited = records.reduce((sum, r) => sum + r.cost, 0)
    const next = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': client.key } })
    const remaining = Number(/"minute";r=(\d+)/.exec(String(next.headers['ratelimit']))![1])
    assert.equal(100_000 - remaining - 1, audited, 'units charged by the limiter and units in the audit log')
    assert.match(String(next.headers['ratelimit']), /"concurrency";r=49/)
    const stored = await app.inject({ method: 'GET', url: '/v1/jobs?limit=1000', headers: { 'x-api-key': client.key } })
    assert.equal(stored.json().jobs.length * 3, audited, 'every stored job is charged in the audit log')
  } finally {
    await app.close()
  }
})

test('a listener of the finished step that throws is logged; the request and the other listeners are unaffected', async () => {
  const app = await buildTestApp({ models: [await builtinModel()] })
  try {
    const client = await createKey(app)
    const seen: number[] = []
    app.onRequestFinished(() => {
      throw new Error('a broken listener')
    })
    app.onRequestFinished(({ status }) => seen.push(status))
    const answer = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': client.key } })
    assert.equal(answer.statusCode, 200)
    assert.deepEqual(seen, [200])
  } finally {
    await app.close()
  }
})
