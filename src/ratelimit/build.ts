/**
 * Chooses the limiter from configuration: in memory by default; on Redis (with the chosen
 * fail-open or fail-closed behaviour) when `--redis-url` is set.
 */
import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import type { Clock } from '../lib/clock.js'
import type { Limiter } from './limiter.js'
import { MemoryLimiter } from './memory.js'
import { RedisLimiter } from './redis.js'
import { ResilientLimiter } from './resilient.js'
import type { ConcurrencyGate } from './concurrency.js'
import { MemoryConcurrencyGate, ResilientConcurrencyGate } from './concurrency.js'
import { RedisConcurrencyGate } from './concurrency-redis.js'
import { redisFailure } from './redis-probe.js'

export interface LimiterOptions {
  config: Config
  log: Pick<Logger, 'warn' | 'info'>
  /** An injected clock (tests); Redis then uses it too instead of its server time. */
  clock: Clock
  clockInjected: boolean
}

/** The client's connect timeout: past it, the store counts as down, as for any other request. */
const CONNECT_WAIT_MS = 2000

/** Redis client settings for the request path: fail fast instead of queueing while down. */
function connectRedis(url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    connectTimeout: CONNECT_WAIT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
  })
  // Connection errors surface through failed commands (and the fail-open log); ioredis would
  // otherwise print every reconnection attempt.
  redis.on('error', () => {})
  return redis
}

export interface BuiltLimiter {
  limiter: Limiter
  /** Concurrency caps, on the same store as the limits. */
  concurrency: ConcurrencyGate
  /** Why the shared store does not answer now, or null (always null for the in-memory limiter). */
  health: () => Promise<string | null>
  /**
   * Resolves once the connection to the shared store is up or has failed, at most after
   * {@link CONNECT_WAIT_MS} (the fallback decides while it is down). Before it, every request fell back to in-memory limits:
   * two instances just started each admitted a whole limit (CI: 100 of 50).
   */
  connected: () => Promise<void>
  close: () => Promise<void>
}

/** How long a concurrency lease lasts: longer than any request may take (receiving, then predicting), plus a minute. */
function leaseMs(config: Config): number {
  return (config.requestTimeoutMs > 0 ? config.requestTimeoutMs : 600_000) + config.predictTimeoutMs + 60_000
}

export function buildLimiter(options: LimiterOptions): BuiltLimiter {
  const { config, clock } = options
  const memory = new MemoryLimiter({ clock })
  const inMemory = new MemoryConcurrencyGate()
  if (config.redisUrl === '')
    return {
      limiter: memory,
      concurrency: inMemory,
      health: () => Promise.resolve(null),
      connected: () => Promise.resolve(),
      close: () => memory.close(),
    }
  const redis = connectRedis(config.redisUrl)
  const primary = new RedisLimiter({ redis, ...(options.clockInjected ? { clock } : {}) })
  const limiter = new ResilientLimiter({ primary, fallback: memory, mode: config.ratelimitFail, log: options.log })
  const concurrency = new ResilientConcurrencyGate({
    primary: new RedisConcurrencyGate({ redis, leaseMs: leaseMs(config), ...(options.clockInjected ? { clock } : {}) }),
    fallback: inMemory,
    mode: config.ratelimitFail,
    log: options.log,
  })
  // A PING while disconnected fails with "Stream isn't writeable"; the reason is the socket's last error.
  let lastError: unknown
  redis.on('error', (error) => (lastError = error))
  redis.on('ready', () => (lastError = undefined))
  return {
    limiter,
    concurrency,
    health: () =>
      redis.ping().then(
        () => null,
        // Without its address: /ready is public.
        (error: unknown) => `Redis does not answer: ${redisFailure(lastError ?? error)}`,
      ),
    connected: () => whenReady(redis),
    close: async () => {
      await limiter.close()
      redis.disconnect()
    },
  }
}

function whenReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve()
  return new Promise((resolve) => {
    // Connected, or refused (an error): either way the outcome is known.
    const done = () => {
      clearTimeout(timer)
      redis.off('ready', done).off('error', done)
      resolve()
    }
    const timer = setTimeout(done, CONNECT_WAIT_MS)
    redis.once('ready', done).once('error', done)
  })
}
