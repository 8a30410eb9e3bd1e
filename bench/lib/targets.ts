/** The servers compared by `npm run bench`, each started fresh as a child process. */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PROJECT_ROOT, SHARED_DIR } from './paths.js'
import type { Target } from './processes.js'
import { freePort, spawnUntil, stopChild } from './processes.js'
import { openDatabase } from '../../src/db/database.js'
import { KeyService } from '../../src/keys/service.js'
import { systemClock } from '../../src/lib/clock.js'

const TSX = ['--import', 'tsx']

async function startTsServer(name: string, file: string, env: NodeJS.ProcessEnv = {}): Promise<Target> {
  const port = await freePort()
  const { child } = await spawnUntil(process.execPath, [...TSX, path.join(PROJECT_ROOT, file)], /listening on \d+/, {
    ...env,
    PORT: String(port),
  })
  return { name, url: `http://127.0.0.1:${port}`, headers: {}, pid: child.pid, stop: () => stopChild(child) }
}

/** (a) bare node:http, constant body. */
export const bareHttp = () => startTsServer('bare node:http (constant JSON)', 'bench/servers/bare-http.ts')

/** (b) bare Fastify, same model and batcher, no security. */
export const bareFastify = () => startTsServer('bare Fastify + model (no security)', 'bench/servers/bare-fastify.ts')

/** A fresh data directory (or the given PostgreSQL store) holding one key with every scope. */
export async function dataDirWithKey(store: { databaseUrl?: string } = {}): Promise<{ dataDir: string; key: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-'))
  const db = await openDatabase({ dataDir, ...store })
  const keys = new KeyService({ db, clock: systemClock, defaultLimits: [] })
  // A limit that is checked on every request but never reached during a run.
  const limits = [{ name: 'minute', limit: 1_000_000_000, windowMs: 60_000 }]
  const { key } = await keys.create({ name: 'bench', scopes: ['admin', 'predict'], limits })
  await keys.close()
  await db.close()
  return { dataDir, key }
}

export interface InfergateOptions {
  /** Extra `serve` flags. */
  args?: string[]
  name?: string
  /** A key already in the store the flags point to; by default a fresh SQLite store with one. */
  key?: string
  /** Extra environment (e.g. a remote model's credential). */
  env?: NodeJS.ProcessEnv
}

/** (c) infergate's full /predict: auth and everything else on, as shipped. */
export async function infergate(options: InfergateOptions = {}): Promise<Target> {
  const store =
    options.key === undefined
      ? await dataDirWithKey()
      : { dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-')), key: options.key }
  const { dataDir, key } = store
  const name = options.name ?? 'infergate /predict (full)'
  const port = await freePort()
  const args = [
    ...TSX,
    path.join(PROJECT_ROOT, 'src/cli/index.ts'),
    'serve',
    '--port',
    String(port),
    '--data-dir',
    dataDir,
    '--no-bootstrap',
    ...(options.args ?? []),
  ]
  const { child } = await spawnUntil(process.execPath, args, new URL(`http://127.0.0.1:${port}/health`), options.env)
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    headers: { 'x-api-key': key },
    pid: child.pid,
    stop: async () => {
      await stopChild(child)
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

const PEER_DIR = path.join(SHARED_DIR, 'peers', 'fastapi-seed')
const PEER_MODEL = path.join(os.tmpdir(), 'infergate-bench-fastapi-seed.joblib')
export const PEER_RATE_LIMIT = 1_000_000_000

/** Why the FastAPI reference cannot run here, or undefined when it can. */
export function fastapiUnavailable(): string | undefined {
  if (!fs.existsSync(path.join(PEER_DIR, 'app.py'))) return `reference service not found at ${PEER_DIR}`
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import fastapi, uvicorn, sklearn, joblib'], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'python3-fastapi, python3-uvicorn or python3-sklearn is not installed (apt-get install -y python3-fastapi python3-uvicorn python3-sklearn)'
  }
}

/** (d) the reference FastAPI service, trained on SST-2 train the first time; on `port` if given. */
export async function fastapiSeed(port?: number): Promise<Target> {
  if (!fs.existsSync(PEER_MODEL)) {
    execFileSync('/usr/bin/python3', [path.join(PEER_DIR, 'train.py'), path.join(SHARED_DIR, 'datasets/sst2/train.tsv'), PEER_MODEL], {
      stdio: 'ignore',
    })
  }
  port ??= await freePort()
  const env = { API_KEY: 'secret', RATE_LIMIT_PER_MIN: String(PEER_RATE_LIMIT), MODEL_PATH: PEER_MODEL }
  const args = [
    '-m',
    'uvicorn',
    'app:app',
    '--app-dir',
    PEER_DIR,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--log-level',
    'info',
    '--no-access-log',
  ]
  const { child } = await spawnUntil('/usr/bin/python3', args, /Uvicorn running on/, env)
  return {
    name: 'FastAPI reference (fastapi-seed)',
    url: `http://127.0.0.1:${port}`,
    headers: { 'x-api-key': 'secret' },
    pid: child.pid,
    stop: () => stopChild(child),
  }
}

const RECIPE_DIR = path.join(SHARED_DIR, 'peers', 'node-recipe')
const RECIPE_COPY = path.join(os.tmpdir(), 'infergate-bench-node-recipe')

/** Why the Node recipe peer cannot run here, or undefined when it can. */
export function nodeRecipeUnavailable(): string | undefined {
  return fs.existsSync(path.join(RECIPE_DIR, 'server.mjs')) ? undefined : `peer not found at ${RECIPE_DIR}`
}

/** The read-only peer folder, copied to a temp dir and installed there once (npm ci). */
function installedRecipe(): string {
  if (!fs.existsSync(path.join(RECIPE_COPY, 'node_modules', 'fastify'))) {
    fs.rmSync(RECIPE_COPY, { recursive: true, force: true })
    fs.cpSync(RECIPE_DIR, RECIPE_COPY, { recursive: true })
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: RECIPE_COPY, stdio: 'ignore' })
  }
  return RECIPE_COPY
}

/** (g) the hand-made Node recipe: Fastify + @fastify/rate-limit keyed by the key + a lexicon model. */
export async function nodeRecipe(): Promise<Target> {
  const dir = installedRecipe()
  const port = await freePort()
  const env = { API_KEYS: 'benchkey', RATE_MAX: String(PEER_RATE_LIMIT), PORT: String(port) }
  const url = `http://127.0.0.1:${port}`
  // It logs nothing: ready once it answers at all (404 for GET /).
  const answers = () =>
    fetch(url).then(
      () => true,
      () => false,
    )
  const { child } = await spawnUntil(process.execPath, [path.join(dir, 'server.mjs')], answers, env)
  return {
    name: 'Node recipe (Fastify + @fastify/rate-limit + lexicon)',
    url,
    headers: { 'x-api-key': 'benchkey' },
    pid: child.pid,
    stop: () => stopChild(child),
  }
}
