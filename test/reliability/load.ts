/**
 * Load for the scenarios: `concurrency` clients that each send one request after another
 * until told to stop (every request is awaited, so none is in flight when the load ends),
 * and a prober that times `/health` meanwhile.
 */

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

/** Times `GET /health` every `everyMs` until stopped; resolves with the latencies (ms) and the statuses. */
export async function probeHealth(url: string, stop: () => boolean, everyMs = 20): Promise<{ latencies: number[]; failures: number }> {
  const latencies: number[] = []
  let failures = 0
  while (!stop()) {
    const started = performance.now()
    try {
      const code = await status(`${url}/health`)
      if (code === 200) latencies.push(performance.now() - started)
      else failures++
    } catch {
      failures++
    }
    await delay(everyMs)
  }
  return { latencies, failures }
}

/** Polls until the check passes, or throws after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const start = Date.now()
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`)
    await delay(100)
  }
}

/** True when the body is the documented error shape `{detail, code, request_id}`. */
export function isErrorShape(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>
    return (
      (typeof parsed.detail === 'string' || Array.isArray(parsed.detail)) &&
      typeof parsed.code === 'string' &&
      /^[a-z_]+$/.test(parsed.code) &&
      typeof parsed.request_id === 'string' &&
      parsed.request_id.length > 0
    )
  } catch {
    return false
  }
}
