/** `--concurrency N` of `keys` and `owners`: most requests in flight at once (1 to 100000). */
import { MAX_CONCURRENCY } from '../routes/key-schemas.js'

export const CONCURRENCY_HELP = `most requests in flight at once, 1 to ${MAX_CONCURRENCY} (429 concurrency_limited beyond)`

export function parseConcurrency(raw: string): number {
  const value = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < 1 || value > MAX_CONCURRENCY)
    throw new Error(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}, got "${raw}"`)
  return value
}

/** `--concurrency N` → N, `--no-concurrency` → null (no cap), neither → undefined (unchanged). */
export function concurrencyChange(option: string | false | undefined): number | null | undefined {
  if (option === undefined) return undefined
  return option === false ? null : parseConcurrency(option)
}
