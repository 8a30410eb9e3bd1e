/**
 * Redis stopped and restarted while load runs, for a fail-open and a fail-closed server side
 * by side: fail-open keeps answering 200 on in-memory limits, fail-closed answers 503
 * `ratelimit_unavailable`; both go back to Redis without a restart, and neither crashes.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RedisServer, freePort } from '../integration/redis-server.js'
import { delay, until } from './load.js'
import { PhasedLoad, answerOf } from './phases.js'
import { scenario, sized } from './report.js'
import type { ReliabilityServer } from './server.js'
import { UNLIMITED, createKeys, newDataDir, startReliabilityServer } from './server.js'

const OUTAGE_MS = sized(3000, 30_000)

test('faults: Redis stopped and restarted under load', { timeout: 180_000 }, async () => {
  await scenario('fault-redis', 'Faults: Redis stopped and restarted', async (report) => {
    const redis = new RedisServer(await freePort())
    await redis.start()
    const servers: { mode: 'open' | 'closed'; server: ReliabilityServer; load: PhasedLoad }[] = []
    try {
      for (const mode of ['open', 'closed'] as const) {
        const dataDir = newDataDir(`redis-${mode}`)
        const [key] = await createKeys({ dataDir }, [{ name: `redis-${mode}`, limits: UNLIMITED }])
        const server = await startReliabilityServer(`redis-${mode}`, { dataDir }, ['--redis-url', redis.url, '--ratelimit-fail', mode])
        const load = new PhasedLoad()
        servers.push({ mode, server, load })
        load.start(4, () => answerOf(`${server.url}/predict?text=steady`, { method: 'POST', headers: { 'x-api-key': key! } }))
      }
      report.done = `After a warm-up (the first answers of fail-closed may be 503 until its Redis connection is up), 4 clients per server on a fail-open and a fail-closed server sharing a private redis-server; Redis killed (SIGKILL) for ${OUTAGE_MS / 1000} s, then started again`
      await until(() => servers.every(({ load }) => load.lastAre('200')), 20_000, 'both serving before the fault')
      for (const { load } of servers) load.phase = 'before'
      await delay(1000)
      for (const { load } of servers) load.phase = 'outage'
      await redis.kill()
      await delay(OUTAGE_MS)
      for (const { load } of servers) load.phase = 'recovery'
      await redis.start()
      await until(() => servers.every(({ load }) => load.lastAre('200')), 30_000, 'both serving from Redis again')
      for (const { load } of servers) load.phase = 'after'
      await delay(1000)
    } finally {
      for (const { load } of servers) await load.stop()
      for (const { server } of servers) await server.stopAndKeep()
      await redis.kill()
    }
    for (const { mode, server, load } of servers) {
      for (const [phase, counts] of Object.entries(load.tally))
        for (const [answer, n] of Object.entries(counts)) report.count(`fail-${mode} ${phase}: ${answer}`, n)
      assert.equal(server.child.exitCode, 0, `fail-${mode} server exited cleanly on SIGTERM`)
      assert.deepEqual(
        Object.keys(load.all()).filter((answer) => answer !== '200' && answer !== '503 ratelimit_unavailable'),
        [],
        `fail-${mode}: unexpected answers ${JSON.stringify(load.all())}`,
      )
      assert.deepEqual(Object.keys(load.tally.after ?? {}), ['200'], `fail-${mode} recovered`)
    }
    const [open, closed] = servers
    assert.deepEqual(Object.keys(open!.load.all()), ['200'], 'fail-open answered 200 throughout')
    assert.ok((closed!.load.tally.outage?.['503 ratelimit_unavailable'] ?? 0) > 0, 'fail-closed answered 503 during the outage')
  })
})
