/**
 * The Redis limiter: limits shared by every instance, checked and charged atomically by one
 * Lua script per request (ioredis sends it with EVALSHA: one round trip).
 */
import type { Redis } from 'ioredis'
import type { Clock } from '../lib/clock.js'
import type { Decision, LimitGroup, Limiter } from './limiter.js'
import type { LimitRule } from './policy.js'
import { LIMIT_SCRIPT, REFUND_SCRIPT } from './redis-script.js'
import { BUCKETS_PER_WINDOW, bucketSize } from './window.js'

type LimitCommand = (keys: number, ...args: (string | number)[]) => Promise<number[]>
type RedisWithLimit = Redis & { infergateLimit: LimitCommand; infergateRefund: LimitCommand }

export interface RedisLimiterOptions {
  redis: Redis
  /** Key prefix, so that several deployments can share one Redis. */
  prefix?: string
  /** Tests inject a clock; by default the Redis server's clock is used, one for every instance. */
  clock?: Clock
}

export class RedisLimiter implements Limiter {
  private readonly redis: RedisWithLimit
  private readonly prefix: string
  private readonly clock: Clock | undefined

  constructor(options: RedisLimiterOptions) {
    this.redis = options.redis as RedisWithLimit
    this.prefix = options.prefix ?? 'infergate:rl:'
    this.clock = options.clock
    if (typeof this.redis.infergateLimit !== 'function') {
      this.redis.defineCommand('infergateLimit', { lua: LIMIT_SCRIPT })
      this.redis.defineCommand('infergateRefund', { lua: REFUND_SCRIPT })
    }
  }

  consume(subject: string, rules: readonly LimitRule[], cost: number): Promise<Decision> {
    return this.consumeAll([{ subject, rules }], cost)
  }

  peek(groups: readonly LimitGroup[]): Promise<Decision> {
    return this.consumeAll(groups, 0)
  }

  /** Every group's rules in one script call: checked and charged atomically by Redis. */
  async consumeAll(groups: readonly LimitGroup[], cost: number): Promise<Decision> {
    // The hash tag keeps all of a subject's windows in one slot on Redis Cluster (several
    // subjects in one call must then share a slot: see docs/rate-limits.md).
    const keys = this.keysOf(groups)
    const rules = groups.flatMap((group) => group.rules)
    const args: (string | number)[] = [this.clock ? this.clock.now() : '', cost, BUCKETS_PER_WINDOW + 2]
    for (const rule of rules) args.push(rule.limit, rule.windowMs, bucketSize(rule.windowMs))
    const reply = await this.redis.infergateLimit(keys.length, ...keys, ...args)
    return toDecision(rules, reply, cost)
  }

  async refund(groups: readonly LimitGroup[], cost: number, decision: Decision): Promise<void> {
    if (!decision.allowed || cost <= 0) return
    const buckets = groups.flatMap((group) => group.rules.map((rule) => bucketSize(rule.windowMs)))
    await this.redis.infergateRefund(buckets.length, ...this.keysOf(groups), cost, decision.at, ...buckets)
  }

  private keysOf(groups: readonly LimitGroup[]): string[] {
    return groups.flatMap(({ subject, rules }) => rules.map((rule) => `${this.prefix}{${subject}}:${rule.name}:${rule.windowMs}`))
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

function toDecision(rules: readonly LimitRule[], reply: number[], cost: number): Decision {
  const allowed = reply[0] === 1
  const at = Number(reply[1])
  const figures = rules.map((_, i) => ({ used: Number(reply[2 + 3 * i]), reset: Number(reply[3 + 3 * i]), wait: Number(reply[4 + 3 * i]) }))
  const states = rules.map((rule, i) => ({ rule, remaining: Math.max(0, rule.limit - figures[i]!.used), resetMs: figures[i]!.reset }))
  if (allowed) return { allowed, states, retryAfterMs: 0, blockedBy: [], exceedsLimit: false, at }
  const blocked = rules.filter((rule, i) => figures[i]!.used + cost > rule.limit)
  return {
    allowed,
    at,
    states,
    retryAfterMs: Math.max(0, ...figures.map((f) => f.wait)),
    blockedBy: blocked.map((rule) => rule.name),
    exceedsLimit: blocked.some((rule) => cost > rule.limit),
  }
}
