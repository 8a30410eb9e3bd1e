/**
 * A remote model: infergate in front of the course's FastAPI service (a `seed` remote model,
 * the full /predict: auth, rate limit, audit) against the same service called directly, with the
 * same request mix, at 32 connections and at 1. Rounds are interleaved and the medians reported.
 *
 * The service is restarted on the same port before each measurement (its sliding-log limiter
 * slows down as its log fills); infergate keeps running and reconnects. Both processes and the
 * load generator share the machine's cores, so infergate's work is taken from the service's.
 */
import os from 'node:os'
import type { LoadResult } from '../lib/load.js'
import { median, runLoad } from '../lib/load.js'
import type { Target } from '../lib/processes.js'
import { freePort } from '../lib/processes.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, loadCells, markdownTable } from '../lib/report.js'
import { predictPaths } from '../lib/texts.js'
import { PEER_RATE_LIMIT, fastapiSeed, fastapiUnavailable, infergate } from '../lib/targets.js'

export interface RemoteBenchOptions {
  durationSec: number
  rounds: number
  log: (line: string) => void
}

const CONNECTIONS = [32, 1]

interface Row {
  via: 'direct' | 'infergate'
  connections: number
  runs: LoadResult[]
}

async function measure(target: Target, row: Row, options: RemoteBenchOptions, paths: string[]): Promise<void> {
  await runLoad(target, { connections: row.connections, durationSec: 1, paths }) // warm-up
  const result = await runLoad(target, { connections: row.connections, durationSec: options.durationSec, paths })
  row.runs.push(result)
  options.log(
    `  ${row.via} c=${row.connections}: ${fmt.int(result.requestsPerSec)} req/s, p50 ${fmt.ms(result.p50Ms)} ms, p99 ${fmt.ms(result.p99Ms)} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
  )
}

export async function runRemote(options: RemoteBenchOptions): Promise<ScenarioReport> {
  const skipped = fastapiUnavailable()
  if (skipped) return { id: 'remote', title: 'Remote model: skipped', markdown: `- skipped: ${skipped}`, data: null }
  const paths = predictPaths()
  const port = await freePort()
  const model = `seed=http://127.0.0.1:${port}/predict?protocol=seed&auth-header=X-API-Key&auth-env=SEED_API_KEY`
  let service = await fastapiSeed(port)
  const gateway = await infergate({
    args: ['--model', model, '--default-model', 'seed'],
    env: { SEED_API_KEY: 'secret' },
    name: 'infergate /predict → FastAPI (seed remote model)',
  })
  const rows: Row[] = CONNECTIONS.flatMap((connections) => [
    { via: 'direct' as const, connections, runs: [] },
    { via: 'infergate' as const, connections, runs: [] },
  ])
  try {
    for (let round = 1; round <= options.rounds; round++) {
      options.log(`round ${round}/${options.rounds}`)
      for (const row of rows) {
        await service.stop()
        service = await fastapiSeed(port)
        await measure(row.via === 'direct' ? service : gateway, row, options, paths)
      }
    }
  } finally {
    await service.stop()
    await gateway.stop()
  }
  return report(rows, options)
}

function summary(row: Row) {
  const cpu = row.runs.map((r) => r.cpuUsPerRequest).filter((v): v is number => v !== undefined)
  return {
    via: row.via,
    connections: row.connections,
    requestsPerSec: median(row.runs.map((r) => r.requestsPerSec)),
    p50Ms: median(row.runs.map((r) => r.p50Ms)),
    p99Ms: median(row.runs.map((r) => r.p99Ms)),
    cpuUsPerRequest: cpu.length === 0 ? undefined : median(cpu),
    non2xx: row.runs.reduce((sum, r) => sum + r.non2xx, 0),
    errors: row.runs.reduce((sum, r) => sum + r.errors, 0),
    runs: row.runs,
  }
}

function report(rows: Row[], options: RemoteBenchOptions): ScenarioReport {
  const results = rows.map(summary)
  const find = (via: Row['via'], connections: number) => results.find((r) => r.via === via && r.connections === connections)!
  const [direct32, via32, direct1, via1] = [find('direct', 32), find('infergate', 32), find('direct', 1), find('infergate', 1)]
  // One connection is a closed loop: the mean time per request is 1 / throughput.
  const overheadMs = 1000 / via1.requestsPerSec - 1000 / direct1.requestsPerSec
  const figures = {
    throughputRatio32: via32.requestsPerSec / direct32.requestsPerSec,
    p50AddedMs32: via32.p50Ms - direct32.p50Ms,
    p99AddedMs32: via32.p99Ms - direct32.p99Ms,
    overheadMsPerRequest1: overheadMs,
  }
  const table = markdownTable(
    ['path', 'connections', 'req/s (median)', 'p50 ms', 'p99 ms', 'CPU µs/request (that process)', 'non-2xx', 'errors'],
    results.map((r) => [r.via === 'direct' ? 'FastAPI service directly' : 'infergate → FastAPI service', r.connections, ...loadCells(r)]),
  )
  const figureTable = markdownTable(
    ['figure', 'measured'],
    [
      ['throughput through infergate / direct, 32 connections', fmt.ratio(figures.throughputRatio32)],
      ['p50 added, 32 connections', `${fmt.ms(figures.p50AddedMs32)} ms`],
      ['p99 added, 32 connections', `${fmt.ms(figures.p99AddedMs32)} ms`],
      ['time added per request, 1 connection (1/req/s through infergate − directly)', `${fmt.ms(figures.overheadMsPerRequest1)} ms`],
    ],
  )
  const notes = [
    `${options.rounds} interleaved rounds of ${options.durationSec} s per row after a 1 s warm-up; autocannon on the same machine; request mix \`POST /predict?text=...\` over the first 32 SST-2 dev sentences, sent unchanged to both.`,
    `**Both servers share this machine's ${os.cpus().length} cores** (with the load generator): every CPU cycle infergate spends (auth, rate limit, audit, the upstream call) is taken from the FastAPI service, so at 32 connections the ratio measures the two competing for the CPU, not a gateway on a machine of its own.`,
    `The service runs as its README says (RATE_LIMIT_PER_MIN=${PEER_RATE_LIMIT}, no access log), restarted on the same port before every measurement; infergate runs as shipped (audit on, one JSON log line per request to a file) with the service as a \`seed\` remote model: one upstream call per text, at most 16 in flight, keep-alive connections (undici).`,
    'CPU µs/request: the CPU time of that row\'s server process (the service\'s for "directly", infergate\'s own for "through infergate") over the requests answered, from /proc.',
  ]
  return {
    id: 'remote',
    title: 'Remote model: infergate in front of the FastAPI reference service against the service directly',
    markdown: `${table}\n\n${figureTable}\n\n${notes.map((n) => `- ${n}`).join('\n')}`,
    data: { results, figures },
  }
}
