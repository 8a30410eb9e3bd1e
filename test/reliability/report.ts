/**
 * What the reliability scenarios share: the short or `--long` counts, a place for what they
 * write (logs, databases, bodies, keys) so that the security scan can search all of it, and
 * the summary each scenario appends as one JSON line for `npm run docs:reliability`.
 *
 *   INFERGATE_RELIABILITY_LONG=1     larger counts and longer loads (npm run test:long)
 *   INFERGATE_RELIABILITY_DIR        shared artifacts directory (set by scripts/run-tests.mjs)
 *   INFERGATE_RELIABILITY_REPORT     the JSON-lines summary (default: results.jsonl in that dir)
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { machineDescription } from '../../bench/lib/report.js'

export const LONG = process.env.INFERGATE_RELIABILITY_LONG === '1'

/** `short` in `npm test`, `long` with --long. */
export function sized<T>(short: T, long: T): T {
  return LONG ? long : short
}

let artifacts: string | undefined

/** The directory shared by every scenario of one run (a private one when run alone). */
export function artifactsDir(): string {
  if (artifacts) return artifacts
  if (process.env.INFERGATE_RELIABILITY_DIR) {
    artifacts = process.env.INFERGATE_RELIABILITY_DIR
  } else {
    const own = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-reliability-'))
    process.once('exit', () => fs.rmSync(own, { recursive: true, force: true }))
    artifacts = own
  }
  fs.mkdirSync(artifacts, { recursive: true })
  return artifacts
}

/** A new directory inside the artifacts directory. */
export function artifactSubdir(prefix: string): string {
  return fs.mkdtempSync(path.join(artifactsDir(), `${prefix}-`))
}

/** Writes a text (server output, response bodies, metrics) where the security scan finds it. */
export function saveArtifact(name: string, text: string): void {
  fs.writeFileSync(path.join(artifactsDir(), `${name.replace(/[^\w.-]/g, '_')}-${process.pid}-${Date.now()}.txt`), text)
}

export const KEYS_FILE = 'keys.jsonl'

/** Remembers every key a scenario created, so that the scan can look for it everywhere. */
export function rememberKeys(...keys: string[]): void {
  fs.appendFileSync(path.join(artifactsDir(), KEYS_FILE), keys.map((key) => JSON.stringify(key) + '\n').join(''))
}

type Result = 'pass' | 'fail' | 'skipped'

/** One row of the summary table. */
export interface ScenarioRecord {
  id: string
  scenario: string
  done: string
  counts: Record<string, number>
  figures: Record<string, number | string>
  result: Result
  note: string
  mode: 'short' | 'long'
  when: string
  machine: string
}

export class ScenarioReport {
  done = ''
  note = ''
  readonly counts: Record<string, number> = {}
  readonly figures: Record<string, number | string> = {}

  count(name: string, value: number): void {
    this.counts[name] = value
  }

  add(name: string, by = 1): void {
    this.counts[name] = (this.counts[name] ?? 0) + by
  }

  figure(name: string, value: number | string): void {
    this.figures[name] = typeof value === 'number' ? Math.round(value * 100) / 100 : value
  }
}

function reportPath(): string {
  return process.env.INFERGATE_RELIABILITY_REPORT ?? path.join(artifactsDir(), 'results.jsonl')
}

function write(record: ScenarioRecord): void {
  fs.appendFileSync(reportPath(), JSON.stringify(record) + '\n')
  const numbers = { ...record.counts, ...record.figures }
  console.log(`# reliability ${record.id}: ${record.result}${record.note ? ` (${record.note})` : ''}`)
  for (const [name, value] of Object.entries(numbers)) console.log(`#   ${name}: ${value}`)
}

function record(id: string, scenario: string, report: ScenarioReport, result: Result): ScenarioRecord {
  return {
    id,
    scenario,
    done: report.done,
    counts: report.counts,
    figures: report.figures,
    result,
    note: report.note,
    mode: LONG ? 'long' : 'short',
    when: new Date().toISOString(),
    machine: machineDescription(),
  }
}

/**
 * Runs one scenario and appends its row: `pass` when `body` resolves, `fail` (with the
 * assertion's message) when it throws, which is then rethrown for the test runner.
 */
export async function scenario(id: string, title: string, body: (report: ScenarioReport) => Promise<void>): Promise<void> {
  const report = new ScenarioReport()
  try {
    await body(report)
  } catch (error) {
    report.note = (error as Error).message.split('\n')[0]!.slice(0, 200)
    write(record(id, title, report, 'fail'))
    throw error
  }
  write(record(id, title, report, 'pass'))
}

/** Appends a row for a scenario this machine cannot run, with the one-line reason. */
export function skipped(id: string, title: string, done: string, reason: string): void {
  const report = new ScenarioReport()
  report.done = done
  report.note = reason
  console.log(`# reliability ${id}: skipped: ${reason}`)
  write(record(id, title, report, 'skipped'))
}
