/** The limiter backends under test, built on an injected clock (Redis: the real local server). */
import { Redis } from 'ioredis'
import type { ManualClock } from '../../src/lib/clock.js'
import type { Limiter } from '../../src/ratelimit/limiter.js'
import { MemoryLimiter } from '../../src/ratelimit/memory.js'
import { RedisLimiter } from '../../src/ratelimit/redis.js'

export const REDIS_URL = process.env.INFERGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface Backend {
  name: string
  create(clock: ManualClock): Limiter
  close(): Promise<void>
}

export function memoryBackend(): Backend {
  return { name: 'memory', create: (clock) => new MemoryLimiter({ clock }), close: () => Promise.resolve() }
}

/** A Redis backend whose keys live under a prefix unique to this test process. */
export function redisBackend(): Backend {
  const redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 })
  const prefix = `infergate-test:${process.pid}:${Date.now()}:`
  return {
    name: 'redis',
    create: (clock) => new RedisLimiter({ redis, prefix, clock }),
    async close() {
      const keys = await redis.keys(`${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    },
  }
}
