/**
 * Concurrency caps shared by every instance: one sorted set per capped subject, whose members
 * are the leases of requests in flight, scored by when they expire. One Lua script drops the
 * expired leases, checks every cap and adds the lease to all of them, atomically.
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Clock } from '../lib/clock.js'
import type { Admission, ConcurrencyCap, ConcurrencyGate } from './concurrency.js'
import { NOW_FROM_ARGV } from './redis-script.js'

// KEYS: one sorted set per cap. ARGV: now (ms; empty: the Redis server's clock), lease ms,
// lease id, then each cap's limit. Returns {0, counts...} when admitted (counts before this
// lease), or {i, counts...} when cap i (1-based) was full.
const ACQUIRE_SCRIPT = `${NOW_FROM_ARGV}
local lease = tonumber(ARGV[2])
local reply = {0}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  reply[i + 1] = redis.call('ZCARD', key)
end
for i = 1, #KEYS do
  if reply[i + 1] >= tonumber(ARGV[3 + i]) then
    reply[1] = i
    return reply
  end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[3])
  redis.call('PEXPIRE', key, lease)
end
return reply
`

type AcquireCommand = (keys: number, ...args: (string | number)[]) => Promise<number[]>
type RedisWithGate = Redis & { infergateAcquire: AcquireCommand }

export interface RedisGateOptions {
  redis: Redis
  /** Longer than any request may take: a lease its instance never gave back counts until then. */
  leaseMs: number
  prefix?: string
  /** Tests inject a clock; by default the Redis server's clock, one for every instance. */
  clock?: Clock
}

export class RedisConcurrencyGate implements ConcurrencyGate {
  private readonly redis: RedisWithGate
  private readonly prefix: string

  constructor(private readonly options: RedisGateOptions) {
    this.redis = options.redis as RedisWithGate
    this.prefix = options.prefix ?? 'infergate:cc:'
    if (typeof this.redis.infergateAcquire !== 'function') this.redis.defineCommand('infergateAcquire', { lua: ACQUIRE_SCRIPT })
  }

  async acquire(caps: readonly ConcurrencyCap[]): Promise<Admission> {
    const keys = caps.map((cap) => `${this.prefix}{${cap.subject}}`)
    const id = randomUUID()
    const now = this.options.clock ? this.options.clock.now() : ''
    const reply = await this.redis.infergateAcquire(keys.length, ...keys, now, this.options.leaseMs, id, ...caps.map((cap) => cap.limit))
    const counts = reply.slice(1).map(Number)
    const full = Number(reply[0])
    if (full > 0) return { ok: false, blockedBy: caps[full - 1]!.subject, inFlight: counts }
    let released = false
    const release = () => {
      if (released) return
      released = true
      // A lease that cannot be given back (Redis down) expires by itself.
      const pipeline = this.redis.pipeline()
      for (const key of keys) pipeline.zrem(key, id)
      pipeline.exec().catch(() => {})
    }
    return { ok: true, inFlight: counts.map((n) => n + 1), release }
  }
}
