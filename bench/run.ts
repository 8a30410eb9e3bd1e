/**
 * `npm run bench`: runs the benchmark scenarios on this machine, prints markdown tables and
 * writes `bench/results/latest.{md,json}` (plus a timestamped JSON copy).
 *
 *   npm run bench -- --only http-predict --duration 10 --rounds 3
 */
import fs from 'node:fs'
import path from 'node:path'
import { Command } from 'commander'
import { RESULTS_DIR } from './lib/paths.js'
import type { ScenarioReport } from './lib/report.js'
import { machineDescription } from './lib/report.js'
import { runHttpPredict } from './scenarios/http-predict.js'
import { runMicro } from './scenarios/micro.js'
import { runLimiterChoice } from './scenarios/limiter-choice.js'
import { runBatching } from './scenarios/batching.js'
import { runScaleOut } from './scenarios/scale-out.js'
import { runKeyTiming } from './scenarios/key-timing.js'

interface BenchOptions {
  only?: string
  duration: string
  rounds: string
  connections: string
  redisUrl: string
}

const program = new Command('bench')
  .option('--only <ids>', 'comma-separated scenario ids (default: all): micro, limiter-choice, http-predict, batching, scale-out, key-timing')
  .option('--duration <seconds>', 'seconds per measurement', '8')
  .option('--rounds <n>', 'interleaved rounds per target (the median is reported)', '3')
  .option('--connections <n>', 'concurrent connections', '32')
  .option('--redis-url <url>', 'Redis for the Redis scenarios', 'redis://127.0.0.1:6379')
  .parse()
const options = program.opts<BenchOptions>()
const log = (line: string) => console.error(line)

const scenarios: Record<string, () => Promise<ScenarioReport>> = {
  micro: () => runMicro({ redisUrl: options.redisUrl, log }),
  'key-timing': () => runKeyTiming({ rounds: Math.max(5, Number(options.rounds) * 5), log }),
  'limiter-choice': runLimiterChoice,
  batching: () => runBatching({ durationSec: Number(options.duration), log }),
  'scale-out': () =>
    runScaleOut({ durationSec: Number(options.duration), rounds: Number(options.rounds), connections: Number(options.connections), redisUrl: options.redisUrl, log }),
  'http-predict': () =>
    runHttpPredict({
      durationSec: Number(options.duration),
      rounds: Number(options.rounds),
      connections: Number(options.connections),
      redisUrl: options.redisUrl,
      log,
    }),
}

const selected = options.only ? options.only.split(',') : Object.keys(scenarios)
const reports: ScenarioReport[] = []
for (const id of selected) {
  const run = scenarios[id]
  if (!run) throw new Error(`unknown scenario ${id}; known: ${Object.keys(scenarios).join(', ')}`)
  log(`\n# ${id}`)
  reports.push(await run())
}

const machine = machineDescription()
const when = new Date().toISOString()
const markdown = [`Measured ${when} on ${machine}.`, ...reports.map((r) => `### ${r.title}\n\n${r.markdown}`)].join('\n\n')
console.log(`\n${markdown}\n`)
fs.mkdirSync(RESULTS_DIR, { recursive: true })
const json = JSON.stringify({ when, machine, reports: reports.map(({ id, title, data }) => ({ id, title, data })) }, null, 2)
fs.writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown + '\n')
fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), json + '\n')
fs.writeFileSync(path.join(RESULTS_DIR, `${when.replace(/[:.]/g, '-')}.json`), json + '\n')
log(`results written to ${path.relative(process.cwd(), RESULTS_DIR)}/latest.{md,json}`)
