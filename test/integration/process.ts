/**
 * Child-process helpers for integration tests: run the real `infergate` command line, start a
 * real server on a real port, and stop it with a signal.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { once } from 'node:events'
import { PROJECT_ROOT } from '../helper.js'

const ENTRY = path.join(PROJECT_ROOT, 'src', 'cli', 'index.ts')
// Resolved here, so that a command run from another directory (cwd) still finds it.
const TSX = import.meta.resolve('tsx')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Starts `infergate ...args` with its output piped, for tests that talk to it while it runs. */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}, withStdin = false, cwd = PROJECT_ROOT): ChildProcess {
  return spawn(process.execPath, ['--import', TSX, ENTRY, ...args], {
    cwd,
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  })
}

/** Runs `infergate ...args` to completion; `input` is written to its stdin. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string, cwd?: string): Promise<CliResult> {
  const child = spawnCli(args, env, input !== undefined, cwd)
  if (input !== undefined) child.stdin!.end(input)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const [code] = (await once(child, 'close')) as [number | null]
  return { code, stdout, stderr }
}

/** The CLI on one store: `cli(...args)` runs a command there, `json(...args)` adds `--json`, asserts exit 0 and parses. */
export function cliOnStore(dataDir: string) {
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dataDir])
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await cli(...args, '--json')
    assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`)
    return JSON.parse(result.stdout) as T
  }
  return { cli, json }
}

export interface RunningServer {
  url: string
  child: ChildProcess
  /** Everything written so far. */
  stdout(): string
  stderr(): string
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `infergate serve --port 0 ...args` and resolves once it listens. */
export async function startServer(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 90_000): Promise<RunningServer> {
  const child = spawnCli(['serve', '--port', '0', ...args], env)
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = once(child, 'exit') as Promise<[number | null]>
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${stderr}\n${stdout}`)), timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!)
      }
    })
    void exited.then(([code]) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${stderr}\n${stdout}`))
    })
  })
  return {
    url,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return child.exitCode
      child.kill(signal)
      const [code] = await exited
      return code
    },
  }
}
