/**
 * The worker-thread call layer shared by the model workers and the audit store thread: answers
 * in order, failures per call, a dead worker failing its calls (and, with `respawn`, replaced at
 * the next call), release.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startWorker, type StartOptions } from '../../src/lib/worker-calls.js'
import { workerEntry } from '../../src/lib/worker-entry.js'
import type { CallsPayload, CallsWorkerData } from '../fixtures/calls-worker.js'

const ENTRY = workerEntry(new URL('../fixtures/calls-worker.ts', import.meta.url).href, 'calls-worker')

function start(options: StartOptions = {}, data: CallsWorkerData = {}) {
  return startWorker<CallsPayload, unknown, { threadId: number }>(ENTRY, data, options)
}

test('answers calls; a call that throws fails alone, with its message', async () => {
  const { client, info } = await start()
  assert.equal(typeof info.threadId, 'number')
  assert.equal(await client.call({ op: 'echo', value: 'a' }), 'a')
  await assert.rejects(client.call({ op: 'fail', message: 'bad batch' }), { message: 'bad batch' })
  assert.equal(await client.call({ op: 'echo', value: 'b' }), 'b')
  await client.release()
})

test('calls are answered one at a time in arrival order, even when one waits', async () => {
  const { client } = await start()
  const answers = await Promise.all([client.call({ op: 'wait', value: 'a', ms: 30 }), client.call({ op: 'echo', value: 'b' })])
  assert.deepEqual(answers, ['a', 'b'])
  assert.deepEqual(await client.call({ op: 'log' }), ['start a', 'end a', 'answer b'])
  await client.release()
})

test('a set-up that throws rejects the start with the first line of its message', async () => {
  await assert.rejects(start({}, { setupError: 'cannot open the store\nsecond line' }), { message: 'cannot open the store' })
})

test('without respawn, a worker that died fails the call in flight and every later call', async () => {
  const { client } = await start({ name: 'the test worker' })
  await assert.rejects(client.call({ op: 'exit', code: 3 }), { message: 'the test worker exited (code 3)' })
  await assert.rejects(client.call({ op: 'echo', value: 'a' }), { message: 'the test worker exited (code 3)' })
  await client.release()
})

test('with respawn, the call in flight fails and the next call starts a new worker', async () => {
  const { client, info } = await start({ respawn: true })
  await assert.rejects(client.call({ op: 'exit', code: 1 }), { message: 'the worker exited (code 1)' })
  const [first, second] = await Promise.all([client.call({ op: 'thread' }), client.call({ op: 'thread' })])
  assert.notEqual(first, info.threadId, 'a new thread answers')
  assert.equal(second, first, 'calls waiting on the restart share one new worker')
  assert.equal(await client.call({ op: 'echo', value: 'c' }), 'c')
  await client.release()
  await assert.rejects(client.call({ op: 'echo', value: 'd' }), { message: 'the worker was released' })
})

test('release answers the calls already sent before the worker exits', async () => {
  const { client } = await start()
  const pending = client.call({ op: 'wait', value: 'last', ms: 30 })
  await client.release()
  assert.equal(await pending, 'last')
})

test('a respawning worker cannot be given transferred buffers: they would move only once', async () => {
  await assert.rejects(start({ respawn: true, transfer: [new ArrayBuffer(8)] }), TypeError)
})
