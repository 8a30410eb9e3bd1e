/**
 * A limiter on Redis decides on Redis from its first request: the server is ready (and listens)
 * only once the limiter's connection is up. Before, requests arriving while it still connected
 * fell back to in-memory limits, and two instances just started each admitted a whole limit.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { testConfig } from '../../src/config.js'
import { systemClock } from '../../src/lib/clock.js'
import { buildLimiter } from '../../src/ratelimit/build.js'
import { REDIS_URL } from './backends.js'

const log = { warn: () => undefined, info: () => undefined }
const rules = [{ name: 'minute', limit: 10, windowMs: 60_000 }]

test('once connected() resolves, the first decision is made on Redis, not by the fallback', async () => {
  const built = buildLimiter({ config: testConfig({ redisUrl: REDIS_URL }), log, clock: systemClock, clockInjected: false })
  try {
    await built.connected()
    const decision = await built.limiter.consumeAll([{ subject: `key:connect-test-${process.pid}-${Date.now()}`, rules }], 1)
    assert.equal(decision.allowed, true)
    assert.equal(decision.fallback, undefined, 'decided by the in-memory fallback')
  } finally {
    await built.close()
  }
})

test('against a Redis that refuses connections, connected() resolves at once and the fallback decides', async () => {
  const built = buildLimiter({ config: testConfig({ redisUrl: 'redis://127.0.0.1:1' }), log, clock: systemClock, clockInjected: false })
  try {
    const start = Date.now()
    await built.connected()
    assert.ok(Date.now() - start < 1500, `waited ${Date.now() - start} ms`)
    const decision = await built.limiter.consumeAll([{ subject: 'key:down', rules }], 1)
    assert.equal(decision.fallback, true)
  } finally {
    await built.close()
  }
})
