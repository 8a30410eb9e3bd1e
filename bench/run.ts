/**
 * `npm run bench`: runs the benchmark scenarios on this machine, prints markdown tables and
 * writes `bench/results/latest.{md,json}` after each scenario (and `docs/benchmarks.md` with
 * `--write-docs`: the whole file, or with `--only` just those scenarios' sections). A scenario that fails is reported as failed; the others still run.
 *
 *   npm run bench -- --only http-predict --duration 10 --rounds 3
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Command } from 'commander'
import { PROJECT_ROOT, RESULTS_DIR } from './lib/paths.js'
import type { ScenarioReport } from './lib/report.js'
import { machineDescription } from './lib/report.js'
import { replaceSections, section } from './lib/docs.js'
import { runHttpPredict } from './scenarios/http-predict.js'
import { runMicro } from './scenarios/micro.js'
import { runLimiterChoice } from './scenarios/limiter-choice.js'
import { runBatching } from './scenarios/batching.js'
import { runScaleOut } from './scenarios/scale-out.js'
import { runModelLatency } from './scenarios/model-latency.js'
import { runKeyTiming } from './scenarios/key-timing.js'
import { runEventLoop } from './scenarios/event-loop.js'
import { runRemote } from './scenarios/remote.js'
import { runJobIngest } from './scenarios/job-ingest.js'
import { runJobDisk } from './scenarios/job-disk.js'
import { runCredits } from './scenarios/credits.js'
import { runLlmStream } from './scenarios/llm-stream.js'

interface BenchOptions {
  only?: string
  duration: string
  rounds: string
  connections: string
  redisUrl: string
  modelDir?: string
  writeDocs?: boolean
}

const program = new Command('bench')
  .option(
    '--only <ids>',
    'comma-separated scenario ids (default: all): micro, model-latency, key-timing, event-loop, job-ingest, job-disk, http-predict, limiter-choice, batching, scale-out, remote, credits, llm-stream',
  )
  .option('--duration <seconds>', 'seconds per measurement', '8')
  .option('--rounds <n>', 'interleaved rounds per target (the median is reported)', '3')
  .option('--connections <n>', 'concurrent connections', '32')
  .option('--redis-url <url>', 'Redis for the Redis scenarios', 'redis://127.0.0.1:6379')
  .option('--model-dir <dir>', 'built-in model folder measured by model-latency (default: models/sentiment)')
  .option('--write-docs', 'also write the tables to docs/benchmarks.md')
  .parse()
const options = program.opts<BenchOptions>()
const log = (line: string) => console.error(line)

const scenarios: Record<string, () => Promise<ScenarioReport>> = {
  micro: () => runMicro({ redisUrl: options.redisUrl, log }),
  'model-latency': () => runModelLatency({ log, ...(options.modelDir === undefined ? {} : { modelDir: path.resolve(options.modelDir) }) }),
  'key-timing': () => runKeyTiming({ rounds: Math.max(5, Number(options.rounds) * 5), log }),
  'event-loop': () => runEventLoop({ log }),
  'job-ingest': () => runJobIngest({ rounds: Math.max(3, Number(options.rounds)), log }),
  'job-disk': () => runJobDisk({ log }),
  'http-predict': () =>
    runHttpPredict({
      durationSec: Number(options.duration),
      rounds: Number(options.rounds),
      connections: Number(options.connections),
      redisUrl: options.redisUrl,
      log,
    }),
  'limiter-choice': runLimiterChoice,
  batching: () => runBatching({ durationSec: Number(options.duration), log }),
  'scale-out': () =>
    runScaleOut({
      durationSec: Number(options.duration),
      rounds: Number(options.rounds),
      connections: Number(options.connections),
      redisUrl: options.redisUrl,
      log,
    }),
  remote: () => runRemote({ durationSec: Number(options.duration), rounds: Number(options.rounds), log }),
  credits: () => runCredits({ redisUrl: options.redisUrl, log }),
  'llm-stream': () => runLlmStream({ rounds: Number(options.rounds), log }),
}

const DOCS_HEADER = `# Benchmarks

Produced by \`npm run bench -- --write-docs\` (every scenario) on the machine named below; the
scenarios live in \`bench/scenarios/\`, one file each. Servers run as child processes on the
same machine as the load generator (autocannon), rounds are interleaved and medians reported,
so the **ratios** measured in one run are the figures to compare; absolute numbers depend on
the machine and on what else ran on it. Where the time of a \`/predict\` goes, and why some
targets are not met on this machine: [performance.md](performance.md).
`

// What else the machine was doing when the run started (a shared machine's noise shows here).
const loadBefore = os.loadavg()[0]!.toFixed(1)

const selected = options.only ? options.only.split(',') : Object.keys(scenarios)
const unknown = selected.filter((id) => !scenarios[id])
if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`)
const reports: ScenarioReport[] = []
let failed = false
for (const id of selected) {
  log(`\n# ${id}`)
  try {
    reports.push(await scenarios[id]!())
  } catch (error) {
    // One broken scenario must not throw away the figures of the others.
    failed = true
    log(`  FAILED: ${(error as Error).stack ?? String(error)}`)
    reports.push({ id, title: `${id}: failed`, markdown: `- failed: ${(error as Error).message.split('\n')[0]}`, data: null })
  }
  writeResults(reports)
}
const markdown = writeResults(reports)
console.log(`\n${markdown}\n`)
if (options.writeDocs) writeDocs(reports, markdown)
log(`results written to ${path.relative(process.cwd(), RESULTS_DIR)}/latest.{md,json}`)
if (failed) process.exitCode = 1

/**
 * Every scenario: the whole file. Some (`--only`): only their sections are replaced, each saying
 * when and how it was measured; the file's other sections keep their own run's figures.
 */
function writeDocs(done: ScenarioReport[], markdown: string): void {
  const file = path.join(PROJECT_ROOT, 'docs', 'benchmarks.md')
  if (!options.only) {
    fs.writeFileSync(file, `${DOCS_HEADER}\n${markdown}\n`)
  } else {
    const measured = `Measured ${new Date().toISOString()} by \`npm run bench -- --only ${options.only} --write-docs\` on ${machineDescription()}; 1-minute load average before the run: ${loadBefore}. This section only: the others keep the date above.`
    fs.writeFileSync(file, replaceSections(fs.readFileSync(file, 'utf8'), done, measured))
  }
  log('docs/benchmarks.md written')
}

/** Writes what has been measured so far; returns it as markdown. */
function writeResults(done: ScenarioReport[]): string {
  const machine = machineDescription()
  const when = new Date().toISOString()
  const markdown = [
    `Measured ${when} on ${machine}; 1-minute load average before the run: ${loadBefore}.`,
    ...done.map((r) => section(r)),
  ].join('\n\n')
  fs.mkdirSync(RESULTS_DIR, { recursive: true })
  const json = JSON.stringify({ when, machine, reports: done.map(({ id, title, data }) => ({ id, title, data })) }, null, 2)
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.md'), markdown + '\n')
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), json + '\n')
  return markdown
}
