/**
 * A private PostgreSQL cluster in a temporary directory on a free port, so that a scenario
 * may stop and restart it without touching the machine's shared server. initdb refuses to
 * run as root, so as root the cluster belongs to the `postgres` system user.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { freePort } from '../integration/redis-server.js'
import type { ScenarioReport } from './report.js'
import { scenario, skipped } from './report.js'

const exec = promisify(execFile)

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!fs.existsSync(root)) return undefined
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined
}

export class PostgresCluster {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
    private readonly asUser: string | undefined,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }

  /** Creates and starts a cluster; resolves with a reason string when this machine cannot. */
  static async create(): Promise<PostgresCluster | string> {
    const bin = binDir()
    if (!bin) return 'no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql'
    const asUser = process.getuid?.() === 0 ? 'postgres' : undefined
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-pg-'))
    try {
      if (asUser) await exec('chown', [asUser, dir])
      const cluster = new PostgresCluster(bin, dir, await freePort(), asUser)
      await cluster.run('initdb', ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'])
      await cluster.start()
      return cluster
    } catch (error) {
      fs.rmSync(dir, { recursive: true, force: true })
      return `could not start a private PostgreSQL cluster: ${(error as Error).message.split('\n')[0]}`
    }
  }

  private async run(tool: string, args: string[]): Promise<void> {
    const command = path.join(this.bin, tool)
    if (this.asUser) await exec('runuser', ['-u', this.asUser, '--', command, ...args])
    else await exec(command, args)
  }

  start(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`
    return this.run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-o', options, '-l', path.join(this.dir, 'log'), '-w', 'start'])
  }

  /** Stops it the way an operator's restart does (fast: connections are terminated). */
  stop(): Promise<void> {
    return this.run('pg_ctl', ['-D', path.join(this.dir, 'data'), '-m', 'fast', '-w', 'stop'])
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => {}) // already stopped
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Runs a scenario on a fresh private cluster, destroyed afterwards; when this machine cannot
 * start one, records the scenario as skipped with the reason and skips the test.
 */
export async function scenarioOnCluster(
  t: TestContext,
  row: { id: string; title: string; done: string },
  body: (cluster: PostgresCluster, report: ScenarioReport) => Promise<void>,
): Promise<void> {
  const cluster = await PostgresCluster.create()
  if (typeof cluster === 'string') {
    skipped(row.id, row.title, row.done, cluster)
    t.skip(cluster)
    return
  }
  try {
    await scenario(row.id, row.title, (report) => body(cluster, report))
  } finally {
    await cluster.destroy()
  }
}
