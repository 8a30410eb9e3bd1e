/**
 * `POST /predict` side by side: (a) bare node:http with a constant body, (b) bare Fastify with
 * the same model and no security, (c) infergate's full /predict, (d) the FastAPI reference,
 * (e) infergate with its limits on Redis instead of in memory, (f) infergate with the audit log
 * off (`--no-audit`), so that c/f is what auditing costs.
 * Rounds are interleaved (a b c d, a b c d, ...) and the median of each is reported, so that
 * a noisy neighbour affects all targets alike.
 */
import type { LoadResult } from '../lib/load.js'
import { median, runLoad } from '../lib/load.js'
import type { Target } from '../lib/processes.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, loadCells, markdownTable } from '../lib/report.js'
import { predictPaths } from '../lib/texts.js'
import { PEER_RATE_LIMIT, bareFastify, bareHttp, fastapiSeed, fastapiUnavailable, infergate } from '../lib/targets.js'

export interface HttpBenchOptions {
  durationSec: number
  rounds: number
  connections: number
  /** Redis for row (e), infergate with the Redis limiter. */
  redisUrl: string
  log: (line: string) => void
}

interface Row {
  id: string
  start: () => Promise<Target>
  runs: LoadResult[]
  name?: string
}

async function measure(row: Row, options: HttpBenchOptions, paths: string[]): Promise<void> {
  const target = await row.start()
  row.name = target.name
  try {
    await runLoad(target, { connections: options.connections, durationSec: 1, paths }) // warm-up
    const result = await runLoad(target, { connections: options.connections, durationSec: options.durationSec, paths })
    row.runs.push(result)
    options.log(
      `  ${row.id} ${target.name}: ${fmt.int(result.requestsPerSec)} req/s, p99 ${fmt.ms(result.p99Ms)} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
    )
  } finally {
    await target.stop()
  }
}

export async function runHttpPredict(options: HttpBenchOptions): Promise<ScenarioReport> {
  const paths = predictPaths()
  const rows: Row[] = [
    { id: 'a', start: bareHttp, runs: [] },
    { id: 'b', start: bareFastify, runs: [] },
    { id: 'c', start: () => infergate(), runs: [] },
  ]
  const skipped = fastapiUnavailable()
  if (skipped) options.log(`  d FastAPI reference: skipped: ${skipped}`)
  else rows.push({ id: 'd', start: fastapiSeed, runs: [] })
  rows.push({
    id: 'e',
    start: () => infergate({ args: ['--redis-url', options.redisUrl], name: 'infergate /predict (full, Redis limiter)' }),
    runs: [],
  })
  rows.push({ id: 'f', start: () => infergate({ args: ['--no-audit'], name: 'infergate /predict (full, audit log off)' }), runs: [] })

  for (let round = 1; round <= options.rounds; round++) {
    options.log(`round ${round}/${options.rounds}`)
    for (const row of rows) await measure(row, options, paths)
  }
  return report(rows, options, skipped)
}

/** Median CPU per request over the rounds that measured it. */
function cpuMedian(runs: LoadResult[]): number | undefined {
  const values = runs.map((r) => r.cpuUsPerRequest).filter((v): v is number => v !== undefined)
  return values.length === 0 ? undefined : median(values)
}

function summary(row: Row) {
  return {
    id: row.id,
    name: row.name ?? row.id,
    requestsPerSec: median(row.runs.map((r) => r.requestsPerSec)),
    p50Ms: median(row.runs.map((r) => r.p50Ms)),
    p99Ms: median(row.runs.map((r) => r.p99Ms)),
    cpuUsPerRequest: cpuMedian(row.runs),
    non2xx: row.runs.reduce((sum, r) => sum + r.non2xx, 0),
    errors: row.runs.reduce((sum, r) => sum + r.errors, 0),
    runs: row.runs,
  }
}

function report(rows: Row[], options: HttpBenchOptions, skipped: string | undefined): ScenarioReport {
  const results = rows.map(summary)
  const byId = Object.fromEntries(results.map((r) => [r.id, r]))
  const c = byId.c!.requestsPerSec
  const ratios = {
    'c/a': c / byId.a!.requestsPerSec,
    'c/b': c / byId.b!.requestsPerSec,
    ...(byId.d ? { 'c/d': c / byId.d.requestsPerSec } : {}),
    'e/c': byId.e!.requestsPerSec / c,
    'c/f': c / byId.f!.requestsPerSec,
  }
  // c/f: the audit log may cost at most 10% of the throughput.
  const targets: Record<string, number> = { 'c/a': 0.35, 'c/b': 0.85, 'c/d': 25, 'e/c': 0.7, 'c/f': 0.9 }
  const table = markdownTable(
    ['', 'server', 'req/s (median)', 'p50 ms', 'p99 ms', 'server CPU µs/request', 'non-2xx', 'errors'],
    results.map((r) => [r.id, r.name, ...loadCells(r)]),
  )
  const ratioTable = markdownTable(
    ['ratio', 'measured', 'target', 'met'],
    Object.entries(ratios).map(([name, value]) => [name, fmt.ratio(value), `≥ ${targets[name]}`, value >= targets[name]! ? 'yes' : 'NO']),
  )
  const notes = [
    `${options.rounds} interleaved rounds of ${options.durationSec} s per server after a 1 s warm-up; ${options.connections} connections; autocannon on the same machine.`,
    'Request mix: `POST /predict?text=...` cycling through the first 32 SST-2 dev sentences.',
    "Server CPU µs/request: the server process's CPU time (every thread: HTTP, inference worker, audit worker) during the run over the requests answered, from /proc; less sensitive to a busy neighbour than req/s.",
    'infergate runs as shipped (auth, rate limit with a 1e9/minute key limit that is checked but never reached, audit log on, one JSON log line per request to /dev/null); (f) is the same with `--no-audit`.',
    skipped
      ? `(d) skipped: ${skipped}.`
      : `(d) ran as its README says: RATE_LIMIT_PER_MIN=${PEER_RATE_LIMIT} (its sliding log scans every timestamp of the last minute on each request), no access log.`,
  ]
  return {
    id: 'http-predict',
    title:
      'POST /predict: infergate against a bare server, bare Fastify and the FastAPI reference; memory and Redis limiter; audit on and off',
    markdown: `${table}\n\n${ratioTable}\n\n${notes.map((n) => `- ${n}`).join('\n')}`,
    data: { results, ratios, targets },
  }
}
