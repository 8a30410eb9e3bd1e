/** The circuit breaker's states, and which upstream failures count against a server. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CircuitBreaker } from '../../src/models/remote/breaker.js'
import { UpstreamFailure, failureAnswer, retryAfterHeader } from '../../src/models/remote/failure.js'
import type { UpstreamState } from '../../src/models/types.js'

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.ok(check())
}

function breaker(probe: () => Promise<void>, changes: UpstreamState[] = []) {
  return new CircuitBreaker({ failures: 3, cooldownMs: 20, maxCooldownMs: 1000, probe, onChange: (state) => changes.push(state) })
}

test('closed until `failures` in a row; a success in between resets the count', () => {
  const b = breaker(() => Promise.resolve())
  b.failed()
  b.failed()
  b.succeeded()
  b.failed()
  b.failed()
  assert.equal(b.state(), 'closed')
  assert.doesNotThrow(() => b.check())
  b.failed()
  assert.equal(b.state(), 'open')
  assert.throws(
    () => b.check(),
    (error: unknown) => error instanceof UpstreamFailure && error.kind === 'breaker_open' && error.retryAfterMs! >= 1000,
  )
  b.stop()
})

test('open → half-open probe → open again for twice as long → closed once a probe succeeds', async () => {
  let healthy = false
  let probes = 0
  const changes: UpstreamState[] = []
  const b = breaker(() => {
    probes++
    return healthy ? Promise.resolve() : Promise.reject(new Error('down'))
  }, changes)
  b.open()
  await until(() => probes === 1 && b.state() === 'open')
  healthy = true
  await until(() => b.state() === 'closed')
  assert.equal(probes, 2)
  assert.deepEqual(changes, ['open', 'half_open', 'open', 'half_open', 'closed'])
  assert.equal(b.retryAfterMs(), 0)
  b.stop()
})

test('a call that succeeds while the breaker is open closes it', () => {
  const b = breaker(() => new Promise(() => {}))
  b.open()
  b.succeeded()
  assert.equal(b.state(), 'closed')
  b.stop()
})

test('refusals of one input do not count against the server; its failures do', () => {
  const counts = (kind: UpstreamFailure['kind'], status?: number) => new UpstreamFailure(kind, 'x', status === undefined ? {} : { status }).countsAgainstServer
  for (const status of [400, 413, 422, 301]) assert.equal(counts('status', status), false, String(status))
  for (const status of [500, 502, 503, 429, 401, 403, 404]) assert.equal(counts('status', status), true, String(status))
  for (const kind of ['unreachable', 'dropped', 'timeout', 'invalid_answer'] as const) assert.equal(counts(kind), true, kind)
  for (const kind of ['aborted', 'breaker_open'] as const) assert.equal(counts(kind), false, kind)
})

test('an upstream Retry-After is read as seconds or a date, bounded to 1 s–5 min', () => {
  const now = Date.UTC(2026, 0, 1)
  assert.equal(retryAfterHeader('7', now), 7000)
  assert.equal(retryAfterHeader('0', now), 1000)
  assert.equal(retryAfterHeader('86400', now), 300_000)
  assert.equal(retryAfterHeader(new Date(now + 30_000).toUTCString(), now), 30_000)
  assert.equal(retryAfterHeader('soon', now), undefined)
  assert.equal(retryAfterHeader(undefined, now), undefined)
  const answer = failureAnswer(new UpstreamFailure('status', 'x', { status: 503, retryAfterMs: 7000 }), 'seed')
  assert.deepEqual([answer.statusCode, answer.code, answer.headers['retry-after']], [503, 'upstream_unavailable', '7'])
})
