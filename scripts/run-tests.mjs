#!/usr/bin/env node
// Runs the node:test suite on the TypeScript sources through tsx, then the route suite a
// second time on PostgreSQL (when one answers on the test URL), as the scale-out issue asks.
// Usage: node scripts/run-tests.mjs [--long] [path-substring ...]   (no argument: every test file)
// --long runs the reliability scenarios (test/reliability) with their larger counts. Those
// scenarios share one artifacts directory per run, where they leave what they wrote (logs,
// databases, answers) for the final security scan and their summary lines (results.jsonl).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import net from 'node:net'
import path from 'node:path'
import pg from 'pg'

const POSTGRES_URL = process.env.INFERGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return findTests(full)
    return entry.name.endsWith('.test.ts') ? [full] : []
  })
}

function run(files, env = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    env: { ...process.env, NODE_ENV: 'test', ...env },
  })
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

const args = process.argv.slice(2)
const long = args.includes('--long')
const filters = args.filter((arg) => arg !== '--long')
const reliabilityDir = process.env.INFERGATE_RELIABILITY_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'infergate-reliability-'))
if (!process.env.INFERGATE_RELIABILITY_DIR) process.on('exit', () => rmSync(reliabilityDir, { recursive: true, force: true }))
process.env.INFERGATE_RELIABILITY_DIR = reliabilityDir
if (long) process.env.INFERGATE_RELIABILITY_LONG = '1'
const files = findTests('test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort()
if (files.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`)
  process.exit(1)
}
let status = run(files)
const routeFiles = files.filter((file) => file.startsWith(path.join('test', 'routes')))
if (routeFiles.length > 0 && process.env.INFERGATE_TEST_SKIP_POSTGRES !== '1') {
  if (await reachable(POSTGRES_URL)) {
    await dropStaleSchemas(POSTGRES_URL)
    console.log(`\n# The route suite again, on PostgreSQL (${POSTGRES_URL})\n`)
    status = run(routeFiles, { INFERGATE_TEST_DATABASE_URL: POSTGRES_URL }) || status
  } else {
    console.log(`\n# PostgreSQL not reachable at ${POSTGRES_URL}: the route suite ran on SQLite only\n`)
  }
}
process.exit(status)
