/**
 * The start-up contract (issue 17, docs/configuration.md#when-the-server-does-not-start): every
 * failure to start prints one line naming the setting or path and what to do, and the process
 * exits non-zero by itself (no thread, connection or timer keeps it alive). Each case runs the
 * real command line as a child process.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { PROJECT_ROOT, tempDir } from '../helper.js'
import { REDIS_URL } from '../ratelimit/backends.js'
import type { CliResult } from './process.js'
import { runCli, startServer } from './process.js'

const POSTGRES = process.env.INFERGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
/** Longer than any start-up failure may take; a process still running then failed the contract. */
const HANG_MS = 30_000

interface Case {
  name: string
  args: () => string[]
  code: number
  line: RegExp
  /** Working directory (default: the project). */
  cwd?: () => string
}

/** A file where a directory is expected. */
function aFile(): string {
  const file = path.join(tempDir(), 'not-a-directory')
  fs.writeFileSync(file, 'x')
  return file
}

/** A data directory whose infergate.db is not an SQLite database. */
function garbageStore(): string {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, 'infergate.db'), 'this is not a database, '.repeat(100))
  return dir
}

const cases: Case[] = [
  {
    name: 'data directory under a file',
    args: () => ['serve', '--data-dir', path.join(aFile(), 'store')],
    code: 1,
    line: /^infergate: cannot open the SQLite store in \/\S+\/not-a-directory\/store: a part of the path is a file.*--data-dir \(ENOTDIR\)$/,
  },
  {
    name: 'data directory is a file',
    args: () => ['serve', '--data-dir', aFile()],
    code: 1,
    line: /^infergate: cannot open the SQLite store in \/\S+\/not-a-directory: .*--data-dir \((EEXIST|ENOTDIR)\)$/,
  },
  {
    name: 'infergate.db is not a database',
    args: () => ['serve', '--data-dir', garbageStore()],
    code: 1,
    line: /^infergate: cannot open the SQLite store in \/\S+: infergate\.db there is not an SQLite database: move it away, or choose another --data-dir \(SQLITE_NOTADB\)$/,
  },
  {
    name: 'PostgreSQL database missing',
    args: () => ['serve', '--database-url', POSTGRES.replace(/\/[^/]*$/, '/infergate_no_such_db')],
    code: 1,
    line: /^infergate: cannot open the PostgreSQL store postgres:\/\/\S+\/infergate_no_such_db: the database does not exist: create it .* \(3D000\)$/,
  },
  {
    name: 'PostgreSQL not answering, password not echoed',
    args: () => ['serve', '--database-url', 'postgres://app:s3cret@127.0.0.1:1/test'],
    code: 1,
    line: /^infergate: cannot open the PostgreSQL store postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/test: nothing answers at that address: start PostgreSQL, or fix the host and port in --database-url \(ECONNREFUSED\)$/,
  },
  {
    name: 'PostgreSQL host unknown',
    args: () => ['serve', '--database-url', 'postgres://postgres@no-such-host.invalid:5432/test'],
    code: 1,
    line: /^infergate: cannot open the PostgreSQL store \S+: the host name is unknown: fix the host in --database-url \((ENOTFOUND|EAI_AGAIN)\)$/,
  },
  {
    name: 'Redis not answering with --ratelimit-fail closed',
    args: () => ['serve', '--data-dir', tempDir(), '--redis-url', 'redis://127.0.0.1:1', '--ratelimit-fail', 'closed'],
    code: 1,
    line: /^infergate: Redis at redis:\/\/127\.0\.0\.1:1 does not answer: connection refused \(ECONNREFUSED\): start Redis or fix --redis-url/,
  },
  {
    name: 'model folder missing',
    args: () => ['serve', '--data-dir', tempDir(), '--model', 'sst2=/no/such/folder'],
    code: 2,
    line: /^infergate: cannot load model "sst2": \/no\/such\/folder\/config\.json: file not found/,
  },
  {
    name: 'invalid setting',
    args: () => ['serve', '--data-dir', tempDir(), '--port', 'eighty'],
    code: 2,
    line: /^infergate: invalid setting --port: must be an integer from 0 to 65535, got "eighty"$/,
  },
  {
    name: 'keys list on a PostgreSQL that does not answer',
    args: () => ['keys', 'list', '--database-url', 'postgres://postgres@127.0.0.1:1/test'],
    code: 1,
    line: /^infergate: cannot open the PostgreSQL store .*\(ECONNREFUSED\)$/,
  },
  {
    name: 'keys list where there is no store',
    args: () => ['keys', 'list'],
    cwd: () => tempDir(),
    code: 1,
    line: /^infergate: no store in \/\S+\/\.infergate \(no \.infergate directory here or in a parent\): run the command where the server runs, or pass its --data-dir or --database-url$/,
  },
  {
    name: 'audit verify where there is no store',
    args: () => ['audit', 'verify'],
    cwd: () => tempDir(),
    code: 1,
    line: /^infergate: no store in /,
  },
]

/** Runs the command; fails if it is still running after HANG_MS (then killed). */
async function runToExit(args: string[], cwd?: string): Promise<CliResult & { ms: number }> {
  const started = Date.now()
  const run = runCli(args, {}, undefined, cwd)
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${HANG_MS} ms: ${args.join(' ')}`)), HANG_MS)
  })
  try {
    const result = await Promise.race([run, hung])
    return { ...result, ms: Date.now() - started }
  } finally {
    clearTimeout(timer)
  }
}

describe('start-up failures: one line, non-zero exit, nothing left running', () => {
  for (const c of cases) {
    test(c.name, async (t) => {
      const result = await runToExit(c.args(), c.cwd?.())
      const lines = result.stderr.trim().split('\n')
      assert.equal(result.code, c.code, result.stderr)
      assert.equal(lines.length, 1, result.stderr)
      assert.match(lines[0]!, c.line)
      assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace')
      assert.equal(result.stdout, '', 'nothing served, nothing logged')
      t.diagnostic(`exited ${result.code} after ${result.ms} ms`)
    })
  }
  test('the table above', () => assert.ok(cases.length >= 12, `${cases.length} cases`))
})

describe('one server per SQLite store', () => {
  let dataDir = ''
  let first: Awaited<ReturnType<typeof startServer>>

  before(async () => {
    dataDir = tempDir()
    first = await startServer(['--data-dir', dataDir, '--no-bootstrap'])
  })
  after(async () => {
    await first.stop()
  })

  test('a second server on the same store refuses to start, naming the first', async () => {
    const second = await runToExit(['serve', '--port', '0', '--data-dir', dataDir, '--no-bootstrap'])
    assert.equal(second.code, 1, second.stderr)
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr)
    const { port } = new URL(first.url)
    assert.match(
      second.stderr,
      new RegExp(
        `^infergate: another infergate server \\(pid ${first.child.pid}, listening on 127\\.0\\.0\\.1:${port}\\) serves the SQLite store in ${dataDir}: .*doubling them; stop it, choose another --data-dir, or share limits with --redis-url\\n$`,
      ),
    )
    // The first one goes on serving.
    assert.equal((await fetch(`${first.url}/health`)).status, 200)
  })

  test('with limits shared through Redis, a second server may use the store', async () => {
    const second = await startServer(['--data-dir', dataDir, '--no-bootstrap', '--redis-url', REDIS_URL])
    try {
      assert.equal((await fetch(`${second.url}/ready`)).status, 200)
    } finally {
      assert.equal(await second.stop(), 0)
    }
  })

  test('the lock goes with the server; one a killed server left is taken over', async () => {
    const dir = tempDir()
    const server = await startServer(['--data-dir', dir, '--no-bootstrap'])
    assert.ok(fs.existsSync(path.join(dir, 'server.lock')))
    assert.equal(await server.stop('SIGTERM'), 0)
    assert.ok(!fs.existsSync(path.join(dir, 'server.lock')), 'removed at a clean stop')
    // A process that has exited: its pid is free, as after a SIGKILL.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid
    fs.writeFileSync(path.join(dir, 'server.lock'), JSON.stringify({ pid: gone, host: os.hostname(), listening: '127.0.0.1:1' }))
    const again = await startServer(['--data-dir', dir, '--no-bootstrap'])
    assert.equal(await again.stop(), 0)
  })
})

describe('Redis at start with --ratelimit-fail open (the default)', () => {
  test('starts with one warning line; /ready says degraded with the reason, still 200', async () => {
    const server = await startServer(['--data-dir', tempDir(), '--no-bootstrap', '--redis-url', 'redis://127.0.0.1:1'])
    try {
      assert.match(
        server.stderr(),
        /^infergate: warning: Redis at redis:\/\/127\.0\.0\.1:1 does not answer: connection refused \(ECONNREFUSED\); serving on in-memory limits/m,
      )
      const ready = await fetch(`${server.url}/ready`)
      assert.equal(ready.status, 200)
      const body = (await ready.json()) as { status: string; checks: { ratelimit: string }; degraded: string[] }
      assert.equal(body.status, 'degraded')
      assert.equal(body.checks.ratelimit, 'degraded')
      assert.match(body.degraded[0]!, /^Redis does not answer: connection refused \(ECONNREFUSED\); limits are kept in memory/)
    } finally {
      await server.stop()
    }
  })
})

describe('one store, found', () => {
  test('the CLI run from a sub-directory uses the store of the directory above, and names it', async () => {
    const project = tempDir()
    const sub = path.join(project, 'docs')
    fs.mkdirSync(sub)
    const created = await runToExit(['keys', 'create', '--name', 'first'], project)
    assert.equal(created.code, 0, created.stderr)
    const store = path.join(project, '.infergate')
    assert.match(created.stderr, new RegExp(`no store in ${store} yet: creating one`))
    assert.match(created.stdout, new RegExp(`^store: SQLite ${store}$`, 'm'))
    const fromSub = await runToExit(['keys', 'create', '--name', 'second'], sub)
    assert.equal(fromSub.code, 0, fromSub.stderr)
    assert.equal(fromSub.stderr, '', 'no new store made')
    assert.match(fromSub.stdout, new RegExp(`^store: SQLite ${store}$`, 'm'))
    assert.ok(!fs.existsSync(path.join(sub, '.infergate')))
    const listed = await runToExit(['keys', 'list', '--json'], sub)
    assert.deepEqual((JSON.parse(listed.stdout) as { name: string }[]).map((k) => k.name).sort(), ['first', 'second'])
  })
})

describe('npm start', () => {
  const built = fs.existsSync(path.join(PROJECT_ROOT, 'dist', 'cli', 'index.js'))
  test('SIGTERM to npm stops the server it started', { skip: built ? false : 'dist/ is not built (npm ci builds it)' }, async () => {
    const npm = spawn('npm', ['start', '--', '--port', '0', '--data-dir', tempDir(), '--no-bootstrap'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let out = ''
    npm.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const pid = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not listen:\n${out}`)), 60_000)
      npm.stdout.on('data', () => {
        const line = out.split('\n').find((l) => l.includes('Server listening at'))
        if (line) {
          clearTimeout(timer)
          resolve((JSON.parse(line) as { pid: number }).pid)
        }
      })
    })
    npm.kill('SIGTERM')
    await once(npm, 'exit')
    const start = Date.now()
    while (alive(pid) && Date.now() - start < HANG_MS) await delay(100)
    assert.equal(alive(pid), false, `the server (pid ${pid}) still runs after npm was stopped`)
    assert.match(out, /"msg":"stopped"/, 'it shut down gracefully')
  })
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test('a start that fails to listen makes no key: the bootstrap comes once the server listens', async () => {
  const first = await startServer(['--data-dir', tempDir(), '--no-bootstrap'])
  try {
    const dataDir = tempDir()
    const second = await runToExit(['serve', '--data-dir', dataDir, '--port', new URL(first.url).port])
    assert.equal(second.code, 2, second.stderr)
    assert.doesNotMatch(second.stderr, /igk_|admin key was created/)
    const listed = await runToExit(['keys', 'list', '--json', '--data-dir', dataDir])
    assert.deepEqual(JSON.parse(listed.stdout), [])
  } finally {
    await first.stop()
  }
})
