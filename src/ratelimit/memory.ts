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

  /** Counter ids of a group's rules, made once per group (groups are cached per key: `KeyService.limitGroups`). */
  private readonly ids = new WeakMap<LimitGroup, string[]>()

  private counter(id: string, windowMs: number): WindowCounter {
    let counter = this.counters.get(id)
    if (!counter) {
      counter = new WindowCounter(windowMs)
      this.counters.set(id, counter)
    }
    return counter
  }

  /** The counters of every rule of the groups, in order. */
  private countersOf(groups: readonly LimitGroup[]): WindowCounter[] {
    const counters: WindowCounter[] = []
    for (const group of groups) {
      let ids = this.ids.get(group)
      if (!ids) {
        ids = group.rules.map((rule) => `${group.subject}|${rule.name}|${rule.windowMs}`)
        this.ids.set(group, ids)
      }
      for (let i = 0; i < ids.length; i++) counters.push(this.counter(ids[i]!, group.rules[i]!.windowMs))
    }
    return counters
  }

  consume(subject: string, rules: readonly LimitRule[], cost: number): Decision {
    return this.consumeAll([{ subject, rules }], cost)
  }

  peek(groups: readonly LimitGroup[]): Decision {
    return this.consumeAll(groups, 0)
  }

  // Synchronous from the first read to the last charge: atomic within the process. Plain loops:
  // this runs on every request.
  consumeAll(groups: readonly LimitGroup[], cost: number): Decision {
    const now = this.clock.now()
    const rules = groups.length === 1 ? groups[0]!.rules : groups.flatMap((group) => group.rules)
    const counters = this.countersOf(groups)
    const used = counters.map((counter) => counter.used(now))
    let allowed = true
    for (let i = 0; i < rules.length; i++) if (used[i]! + cost > rules[i]!.limit) allowed = false
    if (allowed && cost > 0) for (let i = 0; i < counters.length; i++) counters[i]!.charge(now, cost)
    const states = rules.map((rule, i) => ({
      rule,
      remaining: Math.max(0, rule.limit - used[i]! - (allowed ? cost : 0)),
      resetMs: counters[i]!.resetIn(now),
    }))
    if (allowed) return { allowed, states, retryAfterMs: 0, blockedBy: [], exceedsLimit: false, at: now }
    const blocked = rules.flatMap((rule, i) => (used[i]! + cost > rule.limit ? [i] : []))
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
    for (const counter of this.countersOf(groups)) counter.refund(now, decision.at, cost)
  }

  close(): Promise<void> {
    this.counters.clear()
    return Promise.resolve()
  }
}
