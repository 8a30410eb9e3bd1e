/**
 * The full /predict on PostgreSQL + Redis, with one instance and with two sharing them, next
 * to one instance on the embedded defaults. The load generator shares the machine's two cores
 * with every server process, so two instances cannot show two machines' throughput here: the
 * figures show what sharing the stores costs, not how far infergate scales.
 */
import { freshPostgres, postgresReachable } from '../../test/postgres.js'
import type { LoadResult } from '../lib/load.js'
import { median, runLoad } from '../lib/load.js'
import type { Target } from '../lib/processes.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'
import { predictPaths } from '../lib/texts.js'
import { dataDirWithKey, infergate } from '../lib/targets.js'

export interface ScaleOutOptions {
  durationSec: number
  rounds: number
  connections: number
  redisUrl: string
  log: (line: string) => void
}

/** Load spread over several targets at once; the sum of their throughputs. */
async function loadAll(targets: Target[], options: ScaleOutOptions, paths: string[]): Promise<LoadResult> {
  const each = Math.max(1, Math.floor(options.connections / targets.length))
  const results = await Promise.all(
    targets.map((target) => runLoad(target, { connections: each, durationSec: options.durationSec, paths })),
  )
  return {
    requestsPerSec: results.reduce((sum, r) => sum + r.requestsPerSec, 0),
    p50Ms: Math.max(...results.map((r) => r.p50Ms)),
    p99Ms: Math.max(...results.map((r) => r.p99Ms)),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    total: results.reduce((sum, r) => sum + r.total, 0),
  }
}

async function measure(name: string, start: () => Promise<Target[]>, options: ScaleOutOptions, paths: string[]): Promise<LoadResult> {
  const targets = await start()
  try {
    await loadAll(targets, { ...options, durationSec: 1 }, paths)
    const result = await loadAll(targets, options, paths)
    options.log(`  ${name}: ${fmt.int(result.requestsPerSec)} req/s, p99 ${fmt.ms(result.p99Ms)} ms`)
    return result
  } finally {
    await Promise.all(targets.map((target) => target.stop()))
  }
}

export async function runScaleOut(options: ScaleOutOptions): Promise<ScenarioReport> {
  if (!(await postgresReachable())) {
    return { id: 'scale-out', title: 'PostgreSQL + Redis', markdown: '- skipped: PostgreSQL not reachable', data: null }
  }
  const paths = predictPaths()
  const shared = async (instances: number) => {
    const databaseUrl = await freshPostgres()
    const { key } = await dataDirWithKey({ databaseUrl })
    const args = ['--database-url', databaseUrl, '--redis-url', options.redisUrl]
    return Promise.all(Array.from({ length: instances }, () => infergate({ args, name: 'PostgreSQL + Redis', key })))
  }
  const rows: [string, () => Promise<Target[]>][] = [
    ['1 instance, SQLite + memory limits', async () => [await infergate()]],
    ['1 instance, PostgreSQL + Redis', () => shared(1)],
    ['2 instances, PostgreSQL + Redis', () => shared(2)],
  ]
  const runs = new Map<string, LoadResult[]>(rows.map(([name]) => [name, []]))
  for (let round = 1; round <= options.rounds; round++) {
    options.log(`round ${round}/${options.rounds}`)
    for (const [name, start] of rows) runs.get(name)!.push(await measure(name, start, options, paths))
  }
  const summary = rows.map(([name]) => {
    const results = runs.get(name)!
    return {
      name,
      requestsPerSec: median(results.map((r) => r.requestsPerSec)),
      p99Ms: median(results.map((r) => r.p99Ms)),
      failures: results.reduce((s, r) => s + r.non2xx + r.errors, 0),
    }
  })
  const markdown = `${markdownTable(
    ['setup', 'req/s (median)', 'p99 ms', 'non-2xx + errors'],
    summary.map((s) => [s.name, fmt.int(s.requestsPerSec), fmt.ms(s.p99Ms), s.failures]),
  )}

- ${options.rounds} interleaved rounds of ${options.durationSec} s after a 1 s warm-up; ${options.connections} connections in all (split between the instances).
- Everything — the instances, PostgreSQL, Redis and autocannon — shares 2 cores: a second instance adds no CPU, so this measures the cost of the shared stores, not scaling.`
  return { id: 'scale-out', title: 'Full /predict on PostgreSQL + Redis, one and two instances', markdown, data: summary }
}
