/**
 * A small seeded pseudo-random generator, so training is reproducible (no `Math.random`).
 */

/** Returns numbers uniform in [0, 1) from the 32-bit `seed` (the mulberry32 generator). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Shuffles `items` in place (Fisher–Yates) with `random` and returns it. */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const tmp = items[i]!
    items[i] = items[j]!
    items[j] = tmp
  }
  return items
}

/** Fills `array` with values uniform in [-scale, scale). */
export function fillUniform(array: Float32Array, scale: number, random: () => number): Float32Array {
  for (let i = 0; i < array.length; i++) array[i] = (random() * 2 - 1) * scale
  return array
}
