/**
 * The in-process limiter (the default): exact for one process, with bounded memory — at most
 * `maxCounters` windows are kept (least recently used first to go, which only ever forgives).
 */
import { LRUCache } from 'lru-cache'
import type { Clock } from '../lib/clock.js'
import type { Decision, LimitGroup, Limiter } from './limiter.js'
import type { LimitRule } from './policy.js'
import { WindowCounter } from './window-counter.js'

export interface MemoryLimiterOptions {
  clock: Clock
  /** Most windows kept in memory; default 100,000 (about 75 MB at worst). */
  maxCounters?: number
}

export class MemoryLimiter implements Limiter {
  private readonly clock: Clock
  private readonly counters: LRUCache<string, WindowCounter>

  constructor(options: MemoryLimiterOptions) {
    this.clock = options.clock
    this.counters = new LRUCache({ max: options.maxCounters ?? 100_000 })
  }

  private counter(subject: string, rule: LimitRule): WindowCounter {
    const id = `${subject}|${rule.name}|${rule.windowMs}`
    let counter = this.counters.get(id)
    if (!counter) {
      counter = new WindowCounter(rule.windowMs)
      this.counters.set(id, counter)
    }
    return counter
  }

  consume(subject: string, rules: readonly LimitRule[], cost: number): Decision {
    return this.consumeAll([{ subject, rules }], cost)
  }

  peek(groups: readonly LimitGroup[]): Decision {
    return this.consumeAll(groups, 0)
  }

  // Synchronous from the first read to the last charge: atomic within the process.
  consumeAll(groups: readonly LimitGroup[], cost: number): Decision {
    const now = this.clock.now()
    const rules = groups.flatMap((group) => group.rules)
    const counters = groups.flatMap((group) => group.rules.map((rule) => this.counter(group.subject, rule)))
    const blocked = rules.flatMap((rule, i) => (counters[i]!.used(now) + cost > rule.limit ? [i] : []))
    const allowed = blocked.length === 0
    if (allowed && cost > 0) for (const counter of counters) counter.charge(now, cost)
    const states = rules.map((rule, i) => ({
      rule,
      remaining: Math.max(0, rule.limit - counters[i]!.used(now)),
      resetMs: counters[i]!.resetIn(now),
    }))
    if (allowed) return { allowed, states, retryAfterMs: 0, blockedBy: [], exceedsLimit: false, at: now }
    return {
      at: now,
      allowed,
      states,
      retryAfterMs: Math.max(...blocked.map((i) => counters[i]!.waitFor(now, cost, rules[i]!.limit))),
      blockedBy: blocked.map((i) => rules[i]!.name),
      exceedsLimit: blocked.some((i) => cost > rules[i]!.limit),
    }
  }

  refund(groups: readonly LimitGroup[], cost: number, decision: Decision): void {
    if (!decision.allowed || cost <= 0) return
    const now = this.clock.now()
    for (const group of groups) for (const rule of group.rules) this.counter(group.subject, rule).refund(now, decision.at, cost)
  }

  close(): Promise<void> {
    this.counters.clear()
    return Promise.resolve()
  }
}
