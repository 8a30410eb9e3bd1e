/**
 * Why sub-buckets: the same steady traffic through a sliding log (exact, one entry per
 * admitted unit), a fixed window (what most libraries do) and infergate's sliding window of
 * 60 conservative sub-buckets. Reports, per limit: the most units any window-length interval
 * admitted (the guarantee), the share of an at-the-limit client's requests admitted (the
 * forgetting cost) and memory per key. (Time per check: see the micro scenario.)
 */
import { ManualClock } from '../../src/lib/clock.js'
import { MemoryLimiter } from '../../src/ratelimit/memory.js'
import type { LimitRule } from '../../src/ratelimit/policy.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'

interface Algorithm {
  name: string
  /** Returns true when admitted. */
  admit(now: number): boolean
  bytes(): number
}

function slidingLog(rule: LimitRule): Algorithm {
  const log: number[] = []
  let head = 0
  return {
    name: 'sliding log',
    admit(now) {
      while (head < log.length && log[head]! < now - rule.windowMs) head++
      if (log.length - head >= rule.limit) return false
      log.push(now)
      if (head > 4096 && head * 2 > log.length) {
        log.splice(0, head)
        head = 0
      }
      return true
    },
    bytes: () => (log.length - head) * 8,
  }
}

function fixedWindow(rule: LimitRule): Algorithm {
  let window = -1
  let count = 0
  return {
    name: 'fixed window',
    admit(now) {
      const current = Math.floor(now / rule.windowMs)
      if (current !== window) {
        window = current
        count = 0
      }
      if (count >= rule.limit) return false
      count++
      return true
    },
    bytes: () => 16,
  }
}

function subBuckets(rule: LimitRule, clock: ManualClock): Algorithm {
  const limiter = new MemoryLimiter({ clock })
  return {
    name: 'sub-buckets (infergate)',
    admit: () => limiter.consume('k', [rule], 1).allowed,
    // Two Float64Arrays of 62 slots plus the object: see window-counter.ts.
    bytes: () => 62 * 16 + 64,
  }
}

/** The most admissions inside any closed interval of one window length. */
function worstWindow(admitted: number[], windowMs: number): number {
  let worst = 0
  let start = 0
  for (let end = 0; end < admitted.length; end++) {
    while (admitted[end]! - admitted[start]! > windowMs) start++
    worst = Math.max(worst, end - start + 1)
  }
  return worst
}

function drive(make: (clock: ManualClock) => Algorithm, rule: LimitRule) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1))
  const algorithm = make(clock)
  // A client sending exactly at the limit's rate, starting with a burst at a window edge.
  const interval = rule.windowMs / rule.limit
  const total = rule.limit * 4
  const admitted: number[] = []
  clock.set(Math.ceil(clock.now() / rule.windowMs) * rule.windowMs - 1)
  for (let i = 0; i < rule.limit; i++) if (algorithm.admit(clock.now())) admitted.push(clock.now())
  clock.advance(1)
  let peakBytes = algorithm.bytes()
  for (let i = 0; i < total; i++) {
    if (algorithm.admit(clock.now())) admitted.push(clock.now())
    clock.set(clock.now() + interval)
    if (i % 1000 === 0) peakBytes = Math.max(peakBytes, algorithm.bytes())
  }
  const steadyAdmitted = admitted.filter((t) => t > admitted[rule.limit - 1]! + rule.windowMs).length
  const steadyOffered = Math.floor((total * interval - rule.windowMs) / interval)
  return { name: algorithm.name, worst: worstWindow(admitted, rule.windowMs), share: steadyAdmitted / steadyOffered, bytes: peakBytes }
}

export function runLimiterChoice(): Promise<ScenarioReport> {
  const rules: LimitRule[] = [
    { name: 'minute', limit: 60, windowMs: 60_000 },
    { name: 'day', limit: 10_000, windowMs: 86_400_000 },
    { name: 'day', limit: 1_000_000, windowMs: 86_400_000 },
  ]
  const rows: (string | number)[][] = []
  const data = []
  for (const rule of rules) {
    for (const make of [
      (_c: ManualClock) => slidingLog(rule),
      (_c: ManualClock) => fixedWindow(rule),
      (c: ManualClock) => subBuckets(rule, c),
    ]) {
      const r = drive(make, rule)
      data.push({ rule, ...r })
      rows.push([
        `${fmt.int(rule.limit)} per ${rule.name}`,
        r.name,
        `${fmt.int(r.worst)}${r.worst > rule.limit ? ' (over!)' : ''}`,
        `${(r.share * 100).toFixed(1)}%`,
        fmt.int(r.bytes),
      ])
    }
  }
  const markdown =
    markdownTable(['limit', 'algorithm', 'most admitted in one window', 'steady client admitted', 'bytes/key'], rows) +
    '\n\n- A client bursts the full limit just before a window edge, then sends exactly at the limit rate for four windows.' +
    '\n- The fixed window admits up to twice the limit across the edge; the sliding log is exact but its memory grows with the limit; sub-buckets keep the guarantee in constant memory and forget a unit at most 1/60 of a window late.'
  return Promise.resolve({ id: 'limiter-choice', title: 'Choosing the rate-limit algorithm', markdown, data })
}
