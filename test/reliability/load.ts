/**
 * Load for the scenarios: `concurrency` clients that each send one request after another
 * until told to stop (every request is awaited, so none is in flight when the load ends),
 * and a prober that times `/health` meanwhile.
 */
import { Worker } from 'node:worker_threads'

export interface LoadResult {
  /** Answers by status; `error` counts requests that got no HTTP answer at all. */
  statuses: Record<string, number>
  answers: number
}

export interface LoadOptions {
  concurrency: number
  /** True when the clients should stop (checked before each request). */
  stop: () => boolean
  /** Sends request number `i`; resolves with the status. */
  send: (i: number) => Promise<number>
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const statuses: Record<string, number> = {}
  let next = 0
  let answers = 0
  const client = async () => {
    while (!options.stop()) {
      let status: string
      try {
        status = String(await options.send(next++))
        answers++
      } catch {
        status = 'error'
      }
      statuses[status] = (statuses[status] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, client))
  return { statuses, answers }
}

/** Stops after `ms` milliseconds. */
export function after(ms: number): () => boolean {
  const end = Date.now() + ms
  return () => Date.now() >= end
}

export const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sends a request with fetch, reads its body, and resolves with the status. */
export async function status(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init)
  await response.arrayBuffer()
  return response.status
}

/** The q-quantile (0..1) of the samples. */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

// The probe's own loop, in a worker thread: in the test's event loop, which also drives the
// load, a probe would mostly measure how busy the load generator is, not the server.
const PROBE = `
const { parentPort, workerData } = require('node:worker_threads')
const http = require('node:http')
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
const { url, durationMs, everyMs } = workerData
const end = Date.now() + durationMs
const latencies = []
let failures = 0
const once = () => new Promise((resolve) => {
  const started = performance.now()
  const request = http.get(url, { agent }, (response) => {
    response.resume()
    response.on('end', () => resolve(response.statusCode === 200 ? performance.now() - started : -1))
  })
  request.on('error', () => resolve(-1))
})
;(async () => {
  while (Date.now() < end) {
    const latency = await once()
    if (latency >= 0) latencies.push(latency)
    else failures++
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  agent.destroy()
  parentPort.postMessage({ latencies, failures })
})()
`

/**
 * Times `GET /health` every `everyMs` for `durationMs`, from a worker thread of its own (one
 * keep-alive connection, node:http); resolves with the latencies (ms) and the failures.
 */
export function probeHealth(url: string, durationMs: number, everyMs = 20): Promise<{ latencies: number[]; failures: number }> {
  const worker = new Worker(PROBE, { eval: true, workerData: { url: `${url}/health`, durationMs, everyMs } })
  return new Promise((resolve, reject) => {
    worker.once('message', (result: { latencies: number[]; failures: number }) => {
      resolve(result)
      void worker.terminate()
    })
    worker.once('error', reject)
  })
}

/** Polls until the check passes, or throws after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`)
    await delay(100)
  }
}

/** The body as a JSON object, or null when it is not one. */
function jsonObject(body: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(body)
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : null
  } catch {
    return null
  }
}

const isCode = (code: unknown) => typeof code === 'string' && /^[a-z_]+$/.test(code)
const hasRequestId = (parsed: Record<string, unknown>) => typeof parsed.request_id === 'string' && parsed.request_id.length > 0

/** True when the body is the documented error shape `{detail, code, request_id}`. */
export function isErrorShape(body: string): boolean {
  const parsed = jsonObject(body)
  return (
    parsed !== null && (typeof parsed.detail === 'string' || Array.isArray(parsed.detail)) && isCode(parsed.code) && hasRequestId(parsed)
  )
}

/** OpenAI's error shape, which the OpenAI-compatible routes answer (docs/llm-gateway.md), with infergate's request id. */
export function isOpenAiErrorShape(body: string): boolean {
  const parsed = jsonObject(body)
  const error = parsed?.error as Record<string, unknown> | null | undefined
  return (
    parsed !== null &&
    typeof error === 'object' &&
    error !== null &&
    typeof error.message === 'string' &&
    typeof error.type === 'string' &&
    isCode(error.code) &&
    hasRequestId(parsed)
  )
}
