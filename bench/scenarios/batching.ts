/**
 * Micro-batching under a heavy model: a generated ONNX model costing about 5 ms per call
 * whatever the batch size, served by infergate with batching on (max-batch 64) and off
 * (max-batch 1), at 1, 16 and 64 concurrent clients. A side client polls /health meanwhile:
 * its latency shows whether inference ever blocks the event loop.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { writeTinyHfModel } from '../../test/fixtures/hf-model.js'
import { loadHfModel } from '../../src/models/hf/load.js'
import { median, runLoad } from '../lib/load.js'
import type { Target } from '../lib/processes.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'
import { infergate } from '../lib/targets.js'

export interface BatchingOptions {
  durationSec: number
  log: (line: string) => void
}

const CLIENTS = [1, 16, 64]

/** Chooses the number of matrix products that makes one call cost about `targetMs`. */
async function heavyModel(dir: string, targetMs: number): Promise<{ dir: string; callMs: number }> {
  let slowness = 8
  for (;;) {
    const model = writeTinyHfModel(path.join(dir, `heavy-${slowness}`), {
      words: ['good', 'bad', 'movie'],
      labels: ['negative', 'positive'],
      slowness,
    })
    const classifier = await loadHfModel(model.dir, { name: 'heavy' })
    await classifier.classifyBatch(['warm up'])
    const samples: number[] = []
    for (let i = 0; i < 20; i++) {
      const start = performance.now()
      await classifier.classifyBatch(['a good movie'])
      samples.push(performance.now() - start)
    }
    await classifier.close()
    const callMs = median(samples)
    if (callMs >= targetMs * 0.8 || slowness > 4096) return { dir: model.dir, callMs }
    slowness = Math.ceil(slowness * Math.min(4, (targetMs / callMs) * 1.05))
  }
}

/** Polls /health every 20 ms while `during` runs; returns the latencies seen. */
async function healthLatencies(target: Target, during: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = []
  let running = true
  void during.finally(() => (running = false))
  while (running) {
    const start = performance.now()
    await fetch(`${target.url}/health`)
    latencies.push(performance.now() - start)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return latencies
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * 0.99))] ?? 0

export async function runBatching(options: BatchingOptions): Promise<ScenarioReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-heavy-'))
  const heavy = await heavyModel(dir, 5)
  options.log(`  heavy model: ${heavy.callMs.toFixed(1)} ms per call`)
  const rows: (string | number)[][] = []
  const data: Record<string, unknown>[] = []
  for (const maxBatch of [64, 1]) {
    const args = ['--model', `heavy=${heavy.dir}`, '--default-model', 'heavy', '--max-batch', String(maxBatch), '--max-queue', '100000']
    const target = await infergate({ args, name: `max-batch ${maxBatch}` })
    try {
      for (const connections of CLIENTS) {
        const load = runLoad(target, { connections, durationSec: options.durationSec, paths: ['/predict?text=a%20good%20movie'] })
        const health = await healthLatencies(target, load)
        const result = await load
        data.push({ maxBatch, connections, ...result, healthP99Ms: p99(health) })
        rows.push([
          maxBatch,
          connections,
          fmt.int(result.requestsPerSec),
          fmt.ms(result.p50Ms),
          fmt.ms(result.p99Ms),
          fmt.ms(p99(health)),
          result.non2xx + result.errors,
        ])
        options.log(
          `  max-batch ${maxBatch}, ${connections} clients: ${fmt.int(result.requestsPerSec)} req/s, p99 ${fmt.ms(result.p99Ms)} ms`,
        )
      }
    } finally {
      await target.stop()
    }
  }
  fs.rmSync(dir, { recursive: true, force: true })
  const at = (maxBatch: number, connections: number) => data.find((d) => d.maxBatch === maxBatch && d.connections === connections)!
  const speedup = (at(64, 64).requestsPerSec as number) / (at(1, 64).requestsPerSec as number)
  const p99Bound = 2 * (0 + heavy.callMs)
  const markdown = `${markdownTable(['max-batch', 'clients', 'req/s', 'p50 ms', 'p99 ms', '/health p99 ms', 'non-2xx + errors'], rows)}

| at 64 clients | measured | target | met |
| --- | --- | --- | --- |
| batching speed-up (max-batch 64 vs 1) | ${speedup.toFixed(1)}x | ≥ 4x | ${speedup >= 4 ? 'yes' : 'NO'} |
| p99 with batching | ${fmt.ms(at(64, 64).p99Ms as number)} ms | < 2 × (max-wait 0 + one batch ${heavy.callMs.toFixed(1)} ms) = ${p99Bound.toFixed(1)} ms | ${(at(64, 64).p99Ms as number) < p99Bound ? 'yes' : 'NO'} |

- The model: a generated ONNX graph costing ${heavy.callMs.toFixed(1)} ms per call (median, batch of 1), nearly the same for a batch of 64.
- ${options.durationSec} s per measurement; autocannon and a /health poller (every 20 ms) on the same 2-core machine.`
  return {
    id: 'batching',
    title: 'Micro-batching with a heavy (~5 ms per call) model',
    markdown,
    data: { callMs: heavy.callMs, results: data, speedup },
  }
}
