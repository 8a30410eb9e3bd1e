/**
 * Three instances as child processes on one PostgreSQL and one Redis: the guarantees of one
 * process hold across all of them.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { REDIS_URL } from '../ratelimit/backends.js'
import { freshPostgres, postgresReachable } from '../postgres.js'
import { tempDir } from '../helper.js'
import type { RunningServer } from './process.js'
import { runCli, startServer } from './process.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function createKey(databaseUrl: string, ...extra: string[]): Promise<{ id: string; key: string }> {
  const created = await runCli(['keys', 'create', '--name', 'client', '--json', '--database-url', databaseUrl, ...extra])
  assert.equal(created.code, 0, created.stderr)
  return JSON.parse(created.stdout) as { id: string; key: string }
}

const predict = (server: RunningServer, key: string) =>
  fetch(`${server.url}/predict?text=fine`, { method: 'POST', headers: { 'x-api-key': key } }).then((r) => r.status)

describe('scale-out on PostgreSQL + Redis', async () => {
  const reachable = await postgresReachable()
  let databaseUrl = ''
  let servers: RunningServer[] = []

  before(async () => {
    if (!reachable) return
    databaseUrl = await freshPostgres()
    const args = ['--database-url', databaseUrl, '--redis-url', REDIS_URL, '--no-bootstrap', '--job-lease', '1000', '--data-dir', tempDir()]
    // All three start at the same moment on an empty database: migrations must not race.
    servers = await Promise.all([startServer(args), startServer(args), startServer(args)])
  })
  after(async () => {
    await Promise.all(servers.map((server) => server.stop('SIGKILL')))
  })

  test('three instances started at once on an empty database all come up', (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    assert.equal(servers.length, 3)
  })

  test('a limit shared through Redis admits exactly the limit across the three', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    const { key } = await createKey(databaseUrl, '--limit', '50/10s')
    const statuses = await Promise.all(Array.from({ length: 210 }, (_, i) => predict(servers[i % 3]!, key)))
    assert.equal(statuses.filter((s) => s === 200).length, 50)
    assert.equal(statuses.filter((s) => s === 429).length, 160)
  })

  test('a key revoked through the shared store is refused by every instance within 1 second', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    const { key, id } = await createKey(databaseUrl)
    for (const server of servers) assert.equal(await predict(server, key), 200)
    const revoked = await runCli(['keys', 'revoke', id, '--database-url', databaseUrl])
    assert.equal(revoked.code, 0, revoked.stderr)
    const since = performance.now()
    for (const server of servers.slice(1)) {
      while ((await predict(server, key)) === 200) {
        if (performance.now() - since > 3000) break
        await delay(20)
      }
    }
    const elapsed = performance.now() - since
    for (const server of servers) assert.equal(await predict(server, key), 403)
    assert.ok(elapsed < 1000, `revocation took ${Math.round(elapsed)} ms to reach every instance`)
  })

  test('a job accepted by A, with A killed mid-job, is finished by another instance, every result once', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    // A job is paid whole at submission and its chunks run unthrottled, so it is made long
    // enough (313 chunks of 64) to be caught in the middle.
    const { key } = await createKey(databaseUrl, '--limit', '100000/1m')
    const headers = { 'x-api-key': key, 'content-type': 'application/json' }
    const texts = Array.from({ length: 20_000 }, (_, i) => `text number ${i}`)
    const [a, b] = servers as [RunningServer, RunningServer, RunningServer]
    const submitted = await fetch(`${a.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ texts }) })
    assert.equal(submitted.status, 202, await submitted.clone().text())
    const { id } = (await submitted.json()) as { id: string }
    let done = 0
    while (done < 640) {
      await delay(20)
      done = ((await (await fetch(`${b.url}/v1/jobs/${id}`, { headers })).json()) as { done: number }).done
    }
    await a.stop('SIGKILL')
    assert.ok(done < texts.length)
    let status = ''
    for (let waited = 0; status !== 'succeeded'; waited += 100) {
      if (waited > 30_000) throw new Error(`job not finished: ${status}`)
      await delay(100)
      status = ((await (await fetch(`${b.url}/v1/jobs/${id}`, { headers })).json()) as { status: string }).status
    }
    const indices: number[] = []
    for (let offset: number | null = 0; offset !== null;) {
      const page = (await (await fetch(`${servers[2]!.url}/v1/jobs/${id}?offset=${offset}&limit=1000`, { headers })).json()) as {
        results: { index: number }[]
        next_offset: number | null
      }
      indices.push(...page.results.map((r) => r.index))
      offset = page.next_offset
    }
    assert.deepEqual(
      indices,
      texts.map((_, i) => i),
    )
  })

  test('the audit chain written by all three at once verifies intact', async (t) => {
    if (!reachable) return t.skip('PostgreSQL not reachable; skipping')
    const { key } = await createKey(databaseUrl)
    const alive = servers.filter((server) => server.child.exitCode === null && server.child.signalCode === null)
    await Promise.all(Array.from({ length: 150 }, (_, i) => predict(alive[i % alive.length]!, key)))
    // SIGTERM flushes what the survivors buffered (the instance killed above lost only its buffer).
    await Promise.all(servers.map((server) => server.stop('SIGTERM')))
    const verified = await runCli(['audit', 'verify', '--database-url', databaseUrl])
    assert.equal(verified.code, 0, verified.stdout + verified.stderr)
    const count = Number(/(\d+) records, chain intact/.exec(verified.stdout)?.[1])
    assert.ok(count >= 150, verified.stdout)
  })
})
