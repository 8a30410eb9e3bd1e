/**
 * Concurrency caps (issue 19): at most N requests of a key, and of all keys of its owner, in
 * flight at once. A request takes a lease on every cap that applies to it, all or none, when it
 * is authenticated, and gives it back when its answer is sent or its client goes away.
 *
 * In memory (one process) a lease is a count. On Redis (`concurrency-redis.ts`) it is a member
 * of a sorted set scored by when it expires, so the leases of an instance that died without
 * giving them back stop counting after `leaseMs` (longer than any request may take).
 */
import type { Logger } from 'pino'
import { errors } from '../errors.js'

/** One cap a request counts against: `key:key_…` or `owner:team-a`, and its limit. */
export interface ConcurrencyCap {
  subject: string
  limit: number
}

/** A request's caps (named for its headers) and how many of each were in flight when it was admitted or refused. */
export interface CapsState {
  caps: readonly (ConcurrencyCap & { name: string })[]
  inFlight: readonly number[]
}

export type Admission =
  | { ok: true; /** Requests of each cap in flight, this one included, in the caps' order. */ inFlight: number[]; release: () => void }
  | { ok: false; /** The subject of the first cap that was full. */ blockedBy: string; inFlight: number[] }

export interface ConcurrencyGate {
  /** Takes one lease on every cap, or none when one of them is full. */
  acquire(caps: readonly ConcurrencyCap[]): Admission | Promise<Admission>
}

export class MemoryConcurrencyGate implements ConcurrencyGate {
  private readonly inFlight = new Map<string, number>()

  acquire(caps: readonly ConcurrencyCap[]): Admission {
    const counts = caps.map((cap) => this.inFlight.get(cap.subject) ?? 0)
    const full = caps.findIndex((cap, i) => counts[i]! >= cap.limit)
    if (full >= 0) return { ok: false, blockedBy: caps[full]!.subject, inFlight: counts }
    for (const cap of caps) this.inFlight.set(cap.subject, (this.inFlight.get(cap.subject) ?? 0) + 1)
    let released = false
    const release = () => {
      if (released) return
      released = true
      for (const cap of caps) {
        const left = (this.inFlight.get(cap.subject) ?? 1) - 1
        if (left > 0) this.inFlight.set(cap.subject, left)
        else this.inFlight.delete(cap.subject)
      }
    }
    return { ok: true, inFlight: counts.map((n) => n + 1), release }
  }
}

interface ResilientGateOptions {
  primary: ConcurrencyGate
  fallback: ConcurrencyGate
  mode: 'open' | 'closed'
  log: Pick<Logger, 'warn'>
}

/** Redis unreachable: the in-memory gate meanwhile (`open`), or 503 (`closed`), as the limiter does. */
export class ResilientConcurrencyGate implements ConcurrencyGate {
  private down = false

  constructor(private readonly options: ResilientGateOptions) {}

  async acquire(caps: readonly ConcurrencyCap[]): Promise<Admission> {
    try {
      const admission = await this.options.primary.acquire(caps)
      this.down = false
      return admission
    } catch (error) {
      if (!this.down) this.options.log.warn({ err: error }, 'concurrency caps: Redis unreachable')
      this.down = true
      if (this.options.mode === 'closed') throw errors.rateLimitUnavailable()
      return this.options.fallback.acquire(caps)
    }
  }
}
