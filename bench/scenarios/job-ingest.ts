/**
 * Does accepting a large job stall other tenants? The server (the real app, SQLite store,
 * built-in model) receives `POST /v1/jobs` with 100,000 texts in a ~32 MB body, the default
 * `--max-job-body-size`, while `monitorEventLoopDelay` samples its main thread every
 * millisecond. Every other request waits for the longest stall, so the max is what another
 * key's `/predict` would feel. The client is a process of its own.
 */
import fs from 'node:fs'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { AddressInfo } from 'node:net'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../../src/config.js'
import { median } from '../lib/load.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'

export interface JobIngestOptions {
  rounds: number
  log: (line: string) => void
}

const TEXTS = 100_000
const AFTER_MS = 1500
const WORDS = 'the movie was good bad plot great awful acting film story not at all'.split(' ')

function jobBody(): Buffer {
  const texts = Array.from({ length: TEXTS }, (_, i) => {
    let text = `${i} `
    for (let w = i; text.length < 316; w += 7) text += `${WORDS[w % WORDS.length]} `
    return text.trimEnd()
  })
  return Buffer.from(JSON.stringify({ texts }))
}

// The client runs in a process of its own, so that sending 32 MB costs this event loop nothing.
// It reads the body, says "ready" and sends it when told "go" (starting a process from this
// one, whose memory is large, stalls the loop by itself: it is not part of what is measured).
const CLIENT = `
const fs = require('node:fs'), http = require('node:http')
const [port, key, file] = process.argv.slice(1)
const body = fs.readFileSync(file)
process.stdout.write('ready\\n')
process.stdin.once('data', () => {
  const request = http.request({ port, method: 'POST', path: '/v1/jobs', headers: { 'content-type': 'application/json', 'x-api-key': key } }, (response) => {
    let text = ''
    response.setEncoding('utf8').on('data', (chunk) => (text += chunk)).on('end', () => process.stdout.write(JSON.stringify({ status: response.statusCode, text })))
  })
  request.end(body)
})`

interface Client {
  send(): Promise<{ status: number; text: string }>
}

async function startClient(port: number, key: string, file: string): Promise<Client> {
  const child = spawn(process.execPath, ['-e', CLIENT, String(port), key, file], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  const exited = once(child, 'exit')
  while (!out.startsWith('ready\n')) await once(child.stdout, 'data')
  return {
    async send() {
      child.stdin.end('go\n')
      await exited
      return JSON.parse(out.slice('ready\n'.length)) as { status: number; text: string }
    },
  }
}

interface Round {
  maxDelayMs: number
  p99DelayMs: number
  acceptMs: number
  afterMaxMs: number
}

export async function runJobIngest(options: JobIngestOptions): Promise<ScenarioReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-jobs-'))
  const body = jobBody()
  const file = path.join(dir, 'job.json')
  fs.writeFileSync(file, body)
  const limits = [{ name: 'day', limit: 1e9, windowMs: 86_400_000 }]
  const app = await buildApp(
    testConfig({
      logLevel: 'silent',
      dataDir: dir,
      maxQueuedTextsPerKey: 1e8,
      maxQueuedBytesPerKey: 1e11,
      maxQueuedTextsPerOwner: 1e8,
      maxQueuedBytesPerOwner: 1e11,
      maxJobsPerKey: 1000,
    }),
  )
  try {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo
    const { key } = await app.services.keys.create({ name: 'bench', scopes: ['predict'], expiresAt: null, limits, models: null })
    // Only the acceptance is measured: the worker that would classify the jobs is stopped.
    await app.services.jobWorker.stop()
    const rounds: Round[] = []
    for (let r = 0; r < options.rounds; r++) {
      const client = await startClient(port, key, file)
      const histogram = monitorEventLoopDelay({ resolution: 1 })
      histogram.enable()
      const start = performance.now()
      const answer = await client.send()
      const acceptMs = performance.now() - start
      histogram.disable()
      if (answer.status !== 202) throw new Error(`job refused: ${answer.status} ${answer.text.slice(0, 200)}`)
      // What other requests feel in the moments after: SQLite checkpoints the job's log meanwhile.
      const afterwards = monitorEventLoopDelay({ resolution: 1 })
      afterwards.enable()
      await new Promise((resolve) => setTimeout(resolve, AFTER_MS))
      afterwards.disable()
      const round = {
        maxDelayMs: histogram.max / 1e6,
        p99DelayMs: histogram.percentile(99) / 1e6,
        acceptMs,
        afterMaxMs: afterwards.max / 1e6,
      }
      options.log(
        `  round ${r + 1}: loop delay max ${fmt.ms(round.maxDelayMs)} ms, accepted in ${fmt.ms(acceptMs)} ms; max ${fmt.ms(round.afterMaxMs)} ms in the ${AFTER_MS} ms after`,
      )
      rounds.push(round)
    }
    const med = (k: keyof Round) => median(rounds.map((round) => round[k]))
    const row = {
      bodyMB: body.length / 1e6,
      maxDelayMs: med('maxDelayMs'),
      p99DelayMs: med('p99DelayMs'),
      acceptMs: med('acceptMs'),
      afterMaxMs: med('afterMaxMs'),
    }
    const table = markdownTable(
      ['job', 'event-loop delay, max (ms)', 'p99 (ms)', 'target (max)', 'accepted in (ms)', `max in the ${AFTER_MS} ms after (ms)`],
      [
        [
          `${fmt.int(TEXTS)} texts, ${row.bodyMB.toFixed(1)} MB`,
          fmt.ms(row.maxDelayMs),
          fmt.ms(row.p99DelayMs),
          '< 20',
          fmt.ms(row.acceptMs),
          fmt.ms(row.afterMaxMs),
        ],
      ],
    )
    return {
      id: 'job-ingest',
      title: 'Event loop while a 32 MB job is accepted',
      markdown: `${table}\n\n- Median of ${options.rounds} submissions to one server; delay sampled every 1 ms by \`monitorEventLoopDelay\`. The body moves to a worker thread as it arrives, is parsed and validated there, and its texts are fetched and stored in small batches, so the main thread keeps answering other keys meanwhile. The last column is what the main thread feels in the moments after the answer, while SQLite checkpoints the job's log (see docs/jobs.md).`,
      data: row,
    }
  } finally {
    await app.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
