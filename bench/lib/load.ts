/** Drives a target with autocannon and reduces the result to the figures we report. */
import autocannon from 'autocannon'
import type { Target } from './processes.js'
import { cpuMs } from './processes.js'

export interface LoadOptions {
  connections: number
  durationSec: number
  /** Request paths, cycled through (all POST). */
  paths: string[]
}

export interface LoadResult {
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  non2xx: number
  errors: number
  total: number
  /** The server process's CPU time per answered request (all its threads), when known. */
  cpuUsPerRequest?: number
}

export async function runLoad(target: Target, options: LoadOptions): Promise<LoadResult> {
  const cpuBefore = cpuMs(target.pid)
  const result = await autocannon({
    url: target.url,
    connections: options.connections,
    duration: options.durationSec,
    requests: options.paths.map((path) => ({ method: 'POST', path, headers: target.headers })),
  })
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
    ...cpuPerRequest(cpuBefore, cpuMs(target.pid), result.requests.total),
  }
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function cpuPerRequest(before: number | undefined, after: number | undefined, requests: number): { cpuUsPerRequest?: number } {
  if (before === undefined || after === undefined || requests === 0) return {}
  return { cpuUsPerRequest: ((after - before) * 1000) / requests }
}
