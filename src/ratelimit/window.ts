/**
 * The sliding window with sub-buckets, counted conservatively — the algorithm behind every
 * limiter (memory and Redis implement the same arithmetic).
 *
 * Time is cut into buckets of `bucketMs = ceil(windowMs / BUCKETS_PER_WINDOW)`. At time `now`
 * a bucket counts as long as any part of it lies inside the last window, i.e. while
 * `(i + 1) * bucketMs > now - windowMs`. A request is admitted only when the counted units
 * plus its cost fit the limit.
 *
 * Guarantee: no interval of length `windowMs` ever contains more than `limit` admitted units.
 * (At the last admission in any such interval, every earlier admission of the interval lay in
 * a bucket that was still counted, so the total then — including it — was at most `limit`.)
 * Price: a unit is forgotten between `windowMs` and `windowMs + bucketMs` after its admission,
 * so a client sending exactly at the limit can lose up to 1/BUCKETS_PER_WINDOW of its rate.
 */

/** 60 sub-buckets: 1 s resolution for a minute, 24 min for a day; the forgetting delay is ≤ 1/60 of the window. */
export const BUCKETS_PER_WINDOW = 60

export function bucketSize(windowMs: number): number {
  return Math.ceil(windowMs / BUCKETS_PER_WINDOW)
}

/** Index of the bucket holding time `now`. */
export function bucketOf(now: number, bucketMs: number): number {
  return Math.floor(now / bucketMs)
}

/** Oldest bucket still counted at `now`. */
export function oldestCounted(now: number, windowMs: number, bucketMs: number): number {
  return Math.floor((now - windowMs) / bucketMs)
}

/** When bucket `index` stops counting. */
export function bucketExpiry(index: number, windowMs: number, bucketMs: number): number {
  return (index + 1) * bucketMs + windowMs
}
