/**
 * `POST /predict` side by side: (a) bare node:http with a constant body, (b) bare Fastify with
 * the same model and no security, (c) infergate's full /predict, (d) the FastAPI reference,
 * (e) infergate with its limits on Redis instead of in memory, (f) infergate with the audit log
 * off (`--no-audit`), so that c/f is what auditing costs, (g) the hand-made Node recipe peer
 * (Fastify + @fastify/rate-limit + a lexicon model), (h) infergate without its request log line
 * (what the line costs, c − h). (b), (c) and (g) are also timed one request
 * at a time on one connection, for the latency the security layers add at low load.
 * Rounds are interleaved (a b c d, a b c d, ...) and the median of each is reported, so that
 * a noisy neighbour affects all targets alike.
 */
import type { LoadResult } from '../lib/load.js'
import { median, runLoad } from '../lib/load.js'
import type { Target } from '../lib/processes.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, loadCells, markdownTable } from '../lib/report.js'
import type { LatencyResult } from '../lib/latency.js'
import { sequentialLatency } from '../lib/latency.js'
import { predictPaths } from '../lib/texts.js'
import {
  PEER_RATE_LIMIT,
  bareFastify,
  bareHttp,
  fastapiSeed,
  fastapiUnavailable,
  infergate,
  nodeRecipe,
  nodeRecipeUnavailable,
} from '../lib/targets.js'

/** Requests timed one at a time per round, for the one-connection latency. */
const SEQUENTIAL_REQUESTS = 3000

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
  /** Set for the rows also timed one request at a time. */
  latency?: LatencyResult[]
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
    if (row.latency) {
      const latency = await sequentialLatency(target, paths, SEQUENTIAL_REQUESTS)
      row.latency.push(latency)
      options.log(`  ${row.id} one connection: p50 ${fmt.int(latency.p50Us)} µs, p99 ${fmt.int(latency.p99Us)} µs`)
    }
  } finally {
    await target.stop()
  }
}

export async function runHttpPredict(options: HttpBenchOptions): Promise<ScenarioReport> {
  const paths = predictPaths()
  const rows: Row[] = [
    { id: 'a', start: bareHttp, runs: [] },
    { id: 'b', start: bareFastify, runs: [], latency: [] },
    { id: 'c', start: () => infergate(), runs: [], latency: [] },
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
  // Not a way to run infergate: it tells what the one log line per request costs (c − h).
  rows.push({
    id: 'h',
    start: () => infergate({ args: ['--log-level', 'warn'], name: 'infergate /predict (full, request log line off)' }),
    runs: [],
  })
  const noRecipe = nodeRecipeUnavailable()
  if (noRecipe) options.log(`  g Node recipe: skipped: ${noRecipe}`)
  else rows.push({ id: 'g', start: nodeRecipe, runs: [], latency: [] })

  for (let round = 1; round <= options.rounds; round++) {
    options.log(`round ${round}/${options.rounds}`)
    for (const row of rows) await measure(row, options, paths)
  }
  return report(rows, options, skipped, noRecipe)
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
    latency: latencySummary(row),
  }
}

type Summary = ReturnType<typeof summary>

/** A ratio or difference with its target: `at least` or `at most`. */
interface Check {
  name: string
  value: number
  bound: 'at least' | 'at most'
  target: number
  unit?: string
}

const met = (check: Check) => (check.bound === 'at least' ? check.value >= check.target : check.value <= check.target)

function checks(byId: Record<string, Summary>): Check[] {
  const { a, b, c, d, e, f, g } = byId
  const list: Check[] = [
    { name: 'c/a req/s', value: c!.requestsPerSec / a!.requestsPerSec, bound: 'at least', target: 0.35 },
    { name: 'c/b req/s', value: c!.requestsPerSec / b!.requestsPerSec, bound: 'at least', target: 0.8 },
  ]
  if (c!.cpuUsPerRequest !== undefined && b!.cpuUsPerRequest !== undefined)
    list.push({ name: 'c/b server CPU per request', value: c!.cpuUsPerRequest / b!.cpuUsPerRequest, bound: 'at most', target: 1.3 })
  list.push({ name: 'c − b p99 at 32 connections', value: c!.p99Ms - b!.p99Ms, bound: 'at most', target: 1, unit: ' ms' })
  if (d) list.push({ name: 'c/d req/s', value: c!.requestsPerSec / d.requestsPerSec, bound: 'at least', target: 25 })
  if (g) list.push({ name: 'c/g req/s', value: c!.requestsPerSec / g.requestsPerSec, bound: 'at least', target: 1.2 })
  list.push({ name: 'e/c req/s', value: e!.requestsPerSec / c!.requestsPerSec, bound: 'at least', target: 0.85 })
  // The audit log may cost at most 10% of the throughput.
  list.push({ name: 'c/f req/s', value: c!.requestsPerSec / f!.requestsPerSec, bound: 'at least', target: 0.9 })
  return list
}

function checkRow(check: Check): string[] {
  const shown = (v: number) => (check.unit ? `${fmt.ms(v)}${check.unit}` : fmt.ratio(v))
  return [check.name, shown(check.value), `${check.bound === 'at least' ? '≥' : '≤'} ${shown(check.target)}`, met(check) ? 'yes' : 'NO']
}

/**
 * Where the server CPU per request goes: bare Fastify + model (b), the audit log (c − f), the
 * log line (c − h) and everything else the security layers do (auth, limits, headers, metrics,
 * hooks: what is left of c − b), next to what the issue's CPU target (c ≤ 1.3 × b) leaves them.
 * Differences of medians: a few µs of noise either way.
 */
function cpuBreakdown(byId: Record<string, Summary>): string {
  const [b, c, f, h] = ['b', 'c', 'f', 'h'].map((id) => byId[id]?.cpuUsPerRequest)
  if (b === undefined || c === undefined || f === undefined || h === undefined) return ''
  const audit = c - f
  const logLine = c - h
  const rest = c - b - audit - logLine
  const us = (v: number) => `${v.toFixed(0)} µs`
  const noisy =
    rest < 0 ? "\n\n- The rest came out negative: this run's noise is larger than the split; measure again on a quieter machine." : ''
  return `${markdownTable(
    ['server CPU per request', 'µs', 'how'],
    [
      ['bare Fastify + model (b)', us(b), 'row b'],
      ['the audit log', us(audit), 'c − f'],
      ['the request log line', us(logLine), 'c − h'],
      ['auth, limits, headers, metrics, hooks, route', us(rest), 'c − b − audit − log line'],
      ['all security layers (c − b)', us(c - b), ''],
      ['what the target c ≤ 1.3 × b leaves them', us(0.3 * b), '0.3 × b'],
    ],
  )}${noisy}`
}

/** The latency the security layers add at one connection: infergate (c) minus bare Fastify (b). */
function addedLatency(byId: Record<string, Summary>): string {
  const rows = ['b', 'c', 'g'].flatMap((id) => (byId[id]?.latency ? [byId[id]] : []))
  const table = markdownTable(
    ['', 'server', 'p50 µs (median of rounds)', 'p99 µs (median of rounds)'],
    rows.map((r) => [r.id, r.name, fmt.int(r.latency!.p50Us), fmt.int(r.latency!.p99Us)]),
  )
  const b = byId.b!.latency!
  const c = byId.c!.latency!
  const added = markdownTable(
    ['added by the security layers (c − b)', 'measured', 'Kong 3.6, key-auth + rate-limiting (published)', 'LiteLLM proxy (published)'],
    [
      ['p50', `${fmt.int(c.p50Us - b.p50Us)} µs`, '', '+2 ms median'],
      ['p99', `${fmt.int(c.p99Us - b.p99Us)} µs`, '+2.2 ms p99', ''],
    ],
  )
  return `${table}\n\n${added}`
}

function latencySummary(row: Row): LatencyResult | undefined {
  if (!row.latency || row.latency.length === 0) return undefined
  return {
    p50Us: median(row.latency.map((l) => l.p50Us)),
    p99Us: median(row.latency.map((l) => l.p99Us)),
    requests: row.latency.reduce((sum, l) => sum + l.requests, 0),
  }
}

function report(rows: Row[], options: HttpBenchOptions, skipped: string | undefined, noRecipe: string | undefined): ScenarioReport {
  const results = rows.map(summary)
  const byId = Object.fromEntries(results.map((r) => [r.id, r]))
  const list = checks(byId)
  const table = markdownTable(
    ['', 'server', 'req/s (median)', 'p50 ms', 'p99 ms', 'server CPU µs/request', 'non-2xx', 'errors'],
    results.map((r) => [r.id, r.name, ...loadCells(r)]),
  )
  const ratioTable = markdownTable(['ratio', 'measured', 'target', 'met'], list.map(checkRow))
  const notes = [
    `${options.rounds} interleaved rounds of ${options.durationSec} s per server after a 1 s warm-up; ${options.connections} connections; autocannon on the same machine.`,
    'Request mix: `POST /predict?text=...` cycling through the first 32 SST-2 dev sentences.',
    "Server CPU µs/request: the server process's CPU time (every thread: HTTP, inference worker, audit worker) during the run over the requests answered, from /proc; less sensitive to a busy neighbour than req/s.",
    'infergate runs as shipped (auth, rate limit with a 1e9/minute key limit that is checked but never reached, audit log on, one JSON log line per request to a file); (f) is the same with `--no-audit`, (h) with `--log-level warn` (no request line): they are there to show what the audit log and the log line cost, not as ways to run it.',
    skipped
      ? `(d) skipped: ${skipped}.`
      : `(d) ran as its README says: RATE_LIMIT_PER_MIN=${PEER_RATE_LIMIT} (its sliding log scans every timestamp of the last minute on each request), no access log.`,
    noRecipe
      ? `(g) skipped: ${noRecipe}.`
      : `(g) \`../shared/peers/node-recipe\` copied to a temp dir and installed there (npm ci), run as its README says with RATE_MAX=${PEER_RATE_LIMIT}: static keys compared with a Set, a fixed-window limit, an AFINN lexicon (no model worker, no audit, no hashing).`,
    `One connection: ${SEQUENTIAL_REQUESTS} requests per round sent one after another on one keep-alive connection (undici), each timed from send to the end of its answer, after the load run of the same round. Kong's figure is from its published 3.6 benchmark (key-auth + rate-limiting against the proxy alone), LiteLLM's from its published proxy overhead; neither was run here.`,
  ]
  return {
    id: 'http-predict',
    title:
      'POST /predict: infergate against a bare server, bare Fastify, the FastAPI reference and the Node recipe; memory and Redis limiter; audit on and off',
    markdown: `${table}\n\n${ratioTable}\n\n${cpuBreakdown(byId)}\n\n${addedLatency(byId)}\n\n${notes.map((n) => `- ${n}`).join('\n')}`,
    data: { results, checks: list },
  }
}
