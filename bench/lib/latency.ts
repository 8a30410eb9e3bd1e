/**
 * Latency at one connection in microseconds: requests sent one after another on one keep-alive
 * connection, each timed from send to the last byte of its answer. autocannon reports whole
 * milliseconds, too coarse for what a security layer adds to one request at low load.
 */
import { Client } from 'undici'
import type { Target } from './processes.js'

export interface LatencyResult {
  p50Us: number
  p99Us: number
  requests: number
}

export async function sequentialLatency(target: Target, paths: string[], requests: number): Promise<LatencyResult> {
  const client = new Client(target.url, { pipelining: 1 })
  const times: number[] = []
  try {
    for (let i = 0; i < requests; i++) {
      const started = process.hrtime.bigint()
      const answer = await client.request({ method: 'POST', path: paths[i % paths.length]!, headers: target.headers })
      await answer.body.dump()
      if (answer.statusCode !== 200) throw new Error(`${target.name}: ${answer.statusCode} at one connection`)
      times.push(Number(process.hrtime.bigint() - started) / 1000)
    }
  } finally {
    await client.close()
  }
  times.sort((a, b) => a - b)
  const at = (q: number) => times[Math.min(times.length - 1, Math.ceil(q * times.length) - 1)]!
  return { p50Us: at(0.5), p99Us: at(0.99), requests }
}
