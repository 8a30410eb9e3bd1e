#!/usr/bin/env node
// Runs the node:test suite on the TypeScript sources through tsx, in two tiers:
//   fast  unit and route tests (test/unit, keys, ratelimit, audit, models, training, routes),
//         several files at a time; then the route suite a second time on PostgreSQL (when one
//         answers on the test URL), as the scale-out issue asks.
//   slow  integration, reliability and browser tests, one file at a time after the fast tier:
//         they start servers and child processes, and the reliability scenarios report latencies
//         that a neighbouring test file would skew.
// Usage: node scripts/run-tests.mjs [--tier fast|slow] [--concurrency N] [--long] [path-substring ...]
// No --tier runs both; no path runs every file of the tier(s). --concurrency (or
// INFERGATE_TEST_CONCURRENCY) sets how many fast-tier files run at once; default 2.
// --long runs the reliability scenarios (test/reliability) with their larger counts. Those
// scenarios share one artifacts directory per run, where they leave what they wrote (logs,
// databases, answers) for the final security scan and their summary lines (results.jsonl).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import net from 'node:net'
import path from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'

const POSTGRES_URL = process.env.INFERGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const TIERS = {
  fast: ['unit', 'keys', 'ratelimit', 'audit', 'models', 'training', 'routes'],
  slow: ['integration', 'reliability', 'browser'],
}

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return findTests(full)
    return entry.name.endsWith('.test.ts') ? [full] : []
  })
}

function run(files, concurrency, env = {}) {
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, ...files]
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test', ...env } })
  return result.status ?? 1
}

function reachable(url) {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect(Number(port || 5432), hostname)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** True while the process that made a schema (`t_<pid>_...`, see test/postgres.ts) still runs. */
function ownerAlive(schema) {
  const pid = Number(/^t_(\d+)_/.exec(schema)?.[1])
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return error.code === 'EPERM'
  }
}

/**
 * Drops the per-app schemas that an interrupted earlier run left behind, and only those: a
 * schema whose process still runs belongs to another test run or benchmark going on now.
 */
async function dropStaleSchemas(url) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const { rows } = await client.query("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 't\\_%'")
  for (const { schema_name: schema } of rows) {
    if (!ownerAlive(schema)) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }
  await client.end()
}

/** Seconds since `started`, for the timing lines. */
const since = (started) => ((performance.now() - started) / 1000).toFixed(1)

async function runFast(files, concurrency) {
  let started = performance.now()
  let status = run(files, concurrency)
  console.log(`\n# fast tier on SQLite: ${files.length} files in ${since(started)} s (concurrency ${concurrency})\n`)
  const routeFiles = files.filter((file) => file.startsWith(path.join('test', 'routes')))
  if (routeFiles.length === 0 || process.env.INFERGATE_TEST_SKIP_POSTGRES === '1') return status
  if (!(await reachable(POSTGRES_URL))) {
    console.log(`\n# PostgreSQL not reachable at ${POSTGRES_URL}: the route suite ran on SQLite only\n`)
    return status
  }
  await dropStaleSchemas(POSTGRES_URL)
  console.log(`\n# The route suite again, on PostgreSQL (${POSTGRES_URL})\n`)
  started = performance.now()
  status = run(routeFiles, concurrency, { INFERGATE_TEST_DATABASE_URL: POSTGRES_URL }) || status
  console.log(`\n# route suite on PostgreSQL: ${routeFiles.length} files in ${since(started)} s (concurrency ${concurrency})\n`)
  return status
}

function runSlow(files) {
  const started = performance.now()
  const status = run(files, 1)
  console.log(`\n# slow tier: ${files.length} files in ${since(started)} s (one at a time)\n`)
  return status
}

const { values, positionals: filters } = parseArgs({
  allowPositionals: true,
  options: {
    tier: { type: 'string' },
    concurrency: { type: 'string', default: process.env.INFERGATE_TEST_CONCURRENCY ?? '2' },
    long: { type: 'boolean', default: false },
  },
})
if (values.tier !== undefined && !(values.tier in TIERS)) {
  console.error(`--tier is fast or slow, not ${values.tier}`)
  process.exit(2)
}
const concurrency = Number(values.concurrency)
if (!Number.isInteger(concurrency) || concurrency < 1) {
  console.error(`--concurrency is a whole number of files, at least 1, not ${values.concurrency}`)
  process.exit(2)
}
const reliabilityDir = process.env.INFERGATE_RELIABILITY_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'infergate-reliability-'))
if (!process.env.INFERGATE_RELIABILITY_DIR) process.on('exit', () => rmSync(reliabilityDir, { recursive: true, force: true }))
process.env.INFERGATE_RELIABILITY_DIR = reliabilityDir
if (values.long) process.env.INFERGATE_RELIABILITY_LONG = '1'

const files = findTests('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort()
const inTier = (tier) => files.filter((file) => TIERS[tier].includes(file.split(path.sep)[1]))
const tiers = values.tier ? [values.tier] : ['fast', 'slow']
const unknown = files.filter((file) => !Object.keys(TIERS).some((tier) => inTier(tier).includes(file)))
if (unknown.length > 0) {
  console.error(`test files in no tier (add their folder to TIERS in scripts/run-tests.mjs): ${unknown.join(', ')}`)
  process.exit(2)
}
if (tiers.every((tier) => inTier(tier).length === 0)) {
  console.error(`no test file matches ${filters.join(' ')}${values.tier ? ` in the ${values.tier} tier` : ''}`)
  process.exit(1)
}
const started = performance.now()
let status = 0
if (tiers.includes('fast') && inTier('fast').length > 0) status = (await runFast(inTier('fast'), concurrency)) || status
if (tiers.includes('slow') && inTier('slow').length > 0) status = runSlow(inTier('slow')) || status
console.log(`# ${tiers.join(' + ')}: ${since(started)} s in all`)
// Every test process has exited: the schemas they made are all stale now (test/postgres.ts).
if (await reachable(POSTGRES_URL)) await dropStaleSchemas(POSTGRES_URL).catch(() => {})
process.exit(status)
