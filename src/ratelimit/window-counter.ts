/**
 * One sliding window's counts, in memory: a ring of sub-buckets with a running total.
 * See `window.ts` for the algorithm and its guarantee.
 */
import { BUCKETS_PER_WINDOW, bucketExpiry, bucketOf, bucketSize, oldestCounted } from './window.js'

// One slot per counted bucket plus one, so the current bucket never lands on a counted one.
const SLOTS = BUCKETS_PER_WINDOW + 2

export class WindowCounter {
  readonly bucketMs: number
  private readonly counts = new Float64Array(SLOTS)
  private readonly indices = new Float64Array(SLOTS).fill(-1)
  private total = 0
  /** Oldest bucket index holding units (meaningless while `total` is 0). */
  private oldest = 0
  /** Newest bucket index that was charged. */
  private newest = -1

  constructor(readonly windowMs: number) {
    this.bucketMs = bucketSize(windowMs)
  }

  /** Units counted at `now` (after dropping buckets that left the window). */
  used(now: number): number {
    this.advance(now)
    return this.total
  }

  private advance(now: number): void {
    const min = oldestCounted(now, this.windowMs, this.bucketMs)
    if (min <= this.oldest) return
    if (min > this.newest) {
      this.counts.fill(0)
      this.total = 0
      this.oldest = min
      return
    }
    for (let index = Math.max(this.oldest, min - SLOTS); index < min; index++) this.drop(index)
    this.oldest = min
    while (this.oldest < this.newest && !this.holds(this.oldest)) this.oldest++
  }

  private holds(index: number): boolean {
    const slot = index % SLOTS
    return this.indices[slot] === index && this.counts[slot]! > 0
  }

  private drop(index: number): void {
    const slot = index % SLOTS
    if (this.indices[slot] !== index) return
    this.total -= this.counts[slot]!
    this.counts[slot] = 0
  }

  /** Adds units at `now`; call after `used(now)` said they fit. */
  charge(now: number, cost: number): void {
    const index = bucketOf(now, this.bucketMs)
    const slot = index % SLOTS
    if (this.indices[slot] !== index) {
      this.indices[slot] = index
      this.counts[slot] = 0
    }
    if (this.total === 0) this.oldest = index
    this.counts[slot]! += cost
    this.total += cost
    if (index > this.newest) this.newest = index
  }

  /** Takes up to `cost` units back out of the bucket charged at `at`, if it still counts at `now`. */
  refund(now: number, at: number, cost: number): void {
    this.advance(now)
    const index = bucketOf(at, this.bucketMs)
    const slot = index % SLOTS
    if (index < this.oldest || this.indices[slot] !== index) return
    const units = Math.min(cost, this.counts[slot]!)
    this.counts[slot]! -= units
    this.total -= units
  }

  /** Milliseconds until enough units leave the window for `cost` more to fit `limit`. */
  waitFor(now: number, cost: number, limit: number): number {
    let total = this.used(now)
    for (let index = this.oldest; index <= this.newest && total + cost > limit; index++) {
      const slot = index % SLOTS
      if (this.indices[slot] !== index) continue
      total -= this.counts[slot]!
      if (total + cost <= limit) return bucketExpiry(index, this.windowMs, this.bucketMs) - now
    }
    return 0
  }

  /** Milliseconds until the oldest counted unit leaves the window (0 when none is counted). */
  resetIn(now: number): number {
    if (this.used(now) === 0) return 0
    for (let index = this.oldest; index <= this.newest; index++) {
      if (this.holds(index)) return bucketExpiry(index, this.windowMs, this.bucketMs) - now
    }
    return 0
  }
}
