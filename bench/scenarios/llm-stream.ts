/**
 * Streaming overhead of the LLM gateway: chat completion streams through infergate (a child
 * process, auth + limits + token budget + audit on) against the same test LLM server
 * (`test/fixtures/openai-upstream.ts`, in this process) called directly, at 1 and 64 concurrent
 * streams. Measured per stream: time to first byte (TTFB) and the delay between chunks; for
 * infergate also its CPU time per relayed chunk.
 *
 * The upstream writes a chunk every `CHUNK_DELAY_MS` (a model generating ~50 tokens/s): the
 * inter-chunk delay through infergate minus the direct one is what the relay adds per chunk.
 */
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'
import { cpuMs } from '../lib/processes.js'
import { infergate } from '../lib/targets.js'
import { median } from '../lib/load.js'
import { startOpenAiUpstream } from '../../test/fixtures/openai-upstream.js'

export interface LlmStreamBenchOptions {
  rounds: number
  log: (line: string) => void
}

const CHUNK_DELAY_MS = 20
const WORDS = 30
const CONCURRENCY = [1, 64]

interface StreamTiming {
  ttfbMs: number
  gapsMs: number[]
  chunks: number
}

/** One stream: the time to its first body bytes and the gaps between the reads that follow. */
async function stream(url: string, headers: Record<string, string>): Promise<StreamTiming> {
  const started = performance.now()
  const response = await fetch(`${url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'slow', messages: [{ role: 'user', content: 'Count' }], stream: true, max_tokens: WORDS }),
  })
  if (response.status !== 200 || !response.body) throw new Error(`stream answered ${response.status}`)
  let ttfbMs = -1
  let last = 0
  const gapsMs: number[] = []
  let chunks = 0
  const decoder = new TextDecoder()
  for await (const bytes of response.body as AsyncIterable<Uint8Array>) {
    const now = performance.now()
    chunks += decoder.decode(bytes, { stream: true }).split('\n\n').length - 1
    if (ttfbMs < 0) ttfbMs = now - started
    else gapsMs.push(now - last)
    last = now
  }
  return { ttfbMs, gapsMs, chunks }
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0
}

interface Row {
  via: 'direct' | 'infergate'
  concurrency: number
  ttfb: number[]
  gaps: number[]
  chunks: number
  cpuMs: number
}

async function measure(row: Row, url: string, headers: Record<string, string>, pid: number | undefined): Promise<void> {
  const before = cpuMs(pid)
  const timings = await Promise.all(Array.from({ length: row.concurrency }, () => stream(url, headers)))
  const after = cpuMs(pid)
  for (const timing of timings) {
    row.ttfb.push(timing.ttfbMs)
    row.gaps.push(...timing.gapsMs)
    row.chunks += timing.chunks
  }
  if (before !== undefined && after !== undefined) row.cpuMs += after - before
}

export async function runLlmStream(options: LlmStreamBenchOptions): Promise<ScenarioReport> {
  const upstream = await startOpenAiUpstream()
  upstream.words = WORDS
  upstream.chunkDelayMs = CHUNK_DELAY_MS
  const gateway = await infergate({
    args: ['--llm', `slow=${upstream.baseUrl}`, '--llm-limit', '1000000000/1m', '--log-level', 'warn'],
    name: 'infergate /v1/chat/completions (stream)',
  })
  const rows: Row[] = CONCURRENCY.flatMap((concurrency) => [
    { via: 'direct' as const, concurrency, ttfb: [], gaps: [], chunks: 0, cpuMs: 0 },
    { via: 'infergate' as const, concurrency, ttfb: [], gaps: [], chunks: 0, cpuMs: 0 },
  ])
  try {
    // Warm-up: connections, JIT, the key cache.
    await stream(`${gateway.url}/v1`, gateway.headers)
    for (let round = 1; round <= options.rounds; round++) {
      options.log(`round ${round}/${options.rounds}`)
      for (const row of rows) {
        if (row.via === 'direct') await measure(row, upstream.baseUrl, {}, undefined)
        else await measure(row, `${gateway.url}/v1`, gateway.headers, gateway.pid)
        options.log(`  ${row.via} ×${row.concurrency}: TTFB p50 ${fmt.ms(median(row.ttfb))} ms, gap p50 ${fmt.ms(median(row.gaps))} ms`)
      }
    }
  } finally {
    await gateway.stop()
    await upstream.close()
  }
  const data = rows.map((row) => ({
    via: row.via,
    concurrency: row.concurrency,
    streams: row.ttfb.length,
    ttfbP50Ms: median(row.ttfb),
    ttfbP99Ms: percentile(row.ttfb, 99),
    gapP50Ms: median(row.gaps),
    gapP99Ms: percentile(row.gaps, 99),
    cpuUsPerChunk: row.via === 'infergate' && row.chunks > 0 ? (row.cpuMs * 1000) / row.chunks : null,
  }))
  const markdown = [
    markdownTable(
      [
        'via',
        'concurrent streams',
        'streams',
        'TTFB p50 ms',
        'TTFB p99 ms',
        'inter-chunk p50 ms',
        'inter-chunk p99 ms',
        'CPU µs per chunk',
      ],
      data.map((d) => [
        d.via,
        d.concurrency,
        d.streams,
        fmt.ms(d.ttfbP50Ms),
        fmt.ms(d.ttfbP99Ms),
        fmt.ms(d.gapP50Ms),
        fmt.ms(d.gapP99Ms),
        d.cpuUsPerChunk === null ? '' : d.cpuUsPerChunk.toFixed(0),
      ]),
    ),
    '',
    `The test upstream writes one chunk every ${CHUNK_DELAY_MS} ms (${WORDS + 2} chunks and the usage per stream); infergate runs as a child process (tsx) with auth, request and token limits and the audit log on, on the same machine as the upstream and the client.`,
  ].join('\n')
  return { id: 'llm-stream', title: 'LLM streaming: infergate vs the upstream directly', markdown, data }
}
