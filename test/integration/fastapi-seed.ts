/**
 * The course's FastAPI reference service (`../shared/peers/fastapi-seed`) as a real child
 * process, for the remote-model and contract tests: copied to a temporary folder (the shared one is
 * read-only), its model trained once per machine into the system's temporary folder, served by
 * `python3 -m uvicorn` from Debian's packages (installed by `.ci/run`).
 */
import type { ChildProcess } from 'node:child_process'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SHARED_DIR, tempDir } from '../helper.js'

const PYTHON = '/usr/bin/python3'
const PEER = path.join(SHARED_DIR, 'peers', 'fastapi-seed')
const MODEL = path.join(os.tmpdir(), 'infergate-test-fastapi-seed.joblib')

/** Why the service cannot run here (one line), or undefined when it can. */
export function fastapiSeedUnavailable(): string | undefined {
  if (!fs.existsSync(path.join(PEER, 'app.py'))) return `the reference service is not at ${PEER}`
  try {
    execFileSync(PYTHON, ['-c', 'import fastapi, uvicorn, sklearn, joblib'], { stdio: 'ignore' })
    return undefined
  } catch {
    return 'python3 cannot import fastapi, uvicorn and sklearn (apt-get install -y python3-fastapi python3-uvicorn python3-sklearn; .ci/run does)'
  }
}

export interface FastapiSeed {
  url: string
  child: ChildProcess
  apiKey: string
  stop(): Promise<void>
}

/** A copy of the service in a temporary folder laid out as in `shared`, so train.py finds the dev set. */
function copyPeer(): string {
  const root = tempDir('infergate-fastapi-seed-')
  const dir = path.join(root, 'peers', 'fastapi-seed')
  fs.mkdirSync(dir, { recursive: true })
  for (const file of ['app.py', 'train.py']) fs.copyFileSync(path.join(PEER, file), path.join(dir, file))
  fs.symlinkSync(path.join(SHARED_DIR, 'datasets'), path.join(root, 'datasets'))
  return dir
}

function trainOnce(dir: string): void {
  if (fs.existsSync(MODEL)) return
  const partial = `${MODEL}.${process.pid}`
  execFileSync('nice', ['-n', '10', PYTHON, path.join(dir, 'train.py'), path.join(SHARED_DIR, 'datasets', 'sst2', 'train.tsv'), partial], {
    stdio: 'ignore',
  })
  fs.renameSync(partial, MODEL)
}

/** Starts the service on a free port with its own API key and a limit no test reaches. */
export async function startFastapiSeed(apiKey: string): Promise<FastapiSeed> {
  const dir = copyPeer()
  trainOnce(dir)
  const env = { ...process.env, API_KEY: apiKey, RATE_LIMIT_PER_MIN: '1000000000', MODEL_PATH: MODEL, PYTHONDONTWRITEBYTECODE: '1' }
  const args = [
    '-m',
    'uvicorn',
    'app:app',
    '--app-dir',
    dir,
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--log-level',
    'info',
    '--no-access-log',
  ]
  const child = spawn(PYTHON, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let output = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`uvicorn did not start:\n${output}`)), 60_000)
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      const match = /Uvicorn running on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`uvicorn exited with ${code}:\n${output}`))
    })
  })
  return {
    url,
    child,
    apiKey,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}
