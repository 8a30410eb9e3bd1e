/**
 * Redis stopped mid-test: fail-open keeps serving with in-memory limits and goes back to
 * Redis by itself when it returns; fail-closed answers 503 `ratelimit_unavailable` meanwhile.
 * Nothing crashes either way.
 */
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildTestApp, createKey } from '../helper.js'
import { RedisServer, freePort } from './redis-server.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function capturedLogger() {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString())
      callback()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time')
    await delay(100)
  }
}

async function withServer(
  mode: 'open' | 'closed',
  body: (app: FastifyInstance, key: string, redis: RedisServer, lines: string[]) => Promise<void>,
) {
  const redis = new RedisServer(await freePort())
  await redis.start()
  const { logger, lines } = capturedLogger()
  const app = await buildTestApp({ logger, config: { redisUrl: redis.url, ratelimitFail: mode, logLevel: 'info' } })
  try {
    const { key } = await createKey(app)
    await body(app, key, redis, lines)
  } finally {
    await app.close()
    await redis.kill()
  }
}

const predict = (app: FastifyInstance, key: string) =>
  app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key } })

describe('Redis outage', () => {
  after(() => delay(10))

  test('fail-open: serves on in-memory limits, logs the outage once, and recovers without a restart', async () => {
    await withServer('open', async (app, key, redis, lines) => {
      await until(async () => (await predict(app, key)).statusCode === 200)
      await redis.kill()
      for (let i = 0; i < 10; i++) {
        const response = await predict(app, key)
        assert.equal(response.statusCode, 200)
        assert.match(String(response.headers['ratelimit']), /"minute";r=\d+/)
      }
      assert.equal(lines.filter((line) => line.includes('rate-limit store unreachable')).length, 1)
      await redis.start()
      await until(async () => {
        await predict(app, key)
        return lines.some((line) => line.includes('rate-limit store reachable again'))
      })
      const client = new Redis(redis.url)
      const keys = await client.keys('infergate:rl:*')
      client.disconnect()
      assert.ok(keys.length > 0, 'limits are kept in Redis again')
    })
  })

  test('fail-closed: answers 503 ratelimit_unavailable while Redis is down, then recovers', async () => {
    await withServer('closed', async (app, key, redis) => {
      await until(async () => (await predict(app, key)).statusCode === 200)
      await redis.kill()
      const down = await predict(app, key)
      assert.equal(down.statusCode, 503)
      assert.equal(down.json().code, 'ratelimit_unavailable')
      assert.equal(down.headers['retry-after'], '1')
      assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
      await redis.start()
      await until(async () => (await predict(app, key)).statusCode === 200)
    })
  })
})
