/**
 * PostgreSQL stopped and started again while load runs, on a private cluster (never the
 * machine's shared server): requests that need the database fail cleanly with 503, nothing
 * crashes, and the audit records buffered meanwhile are written afterwards, none lost.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { postgresAuditCount } from './audit-count.js'
import { delay, until } from './load.js'
import { scenarioOnCluster } from './postgres-cluster.js'
import { keepPostgresRows } from './pg-dump.js'
import { PhasedLoad, answerOf } from './phases.js'
import { sized } from './report.js'
import { UNLIMITED, createKeys, newDataDir, startReliabilityServer } from './server.js'

const TITLE = 'Faults: PostgreSQL restarted'
const OUTAGE_MS = sized(3000, 30_000)
const ALLOWED = new Set(['200', '503 service_unavailable'])

test('faults: PostgreSQL stopped and restarted under load', { timeout: 180_000 }, async (t) => {
  await scenarioOnCluster(
    t,
    { id: 'fault-postgres', title: TITLE, done: 'PostgreSQL stopped and started under load' },
    async (cluster, report) => {
      const store = { dataDir: newDataDir('postgres'), databaseUrl: cluster.url }
      const [key] = await createKeys(store, [{ name: 'pg-outage', limits: UNLIMITED }])
      const server = await startReliabilityServer('postgres-outage', store)
      report.done = `4 clients alternating POST /predict and GET /v1/jobs (which reads the database) on a server using a private PostgreSQL cluster; the cluster stopped (pg_ctl -m fast) for ${OUTAGE_MS / 1000} s, then started again`
      const headers = { 'x-api-key': key! }
      const load = new PhasedLoad()
      load.start(4, async (i) =>
        i % 2 === 0
          ? `${await answerOf(`${server.url}/predict?text=steady`, { method: 'POST', headers })} predict`
          : `${await answerOf(`${server.url}/v1/jobs`, { headers })} jobs`,
      )
      let exitCode: number | null
      try {
        await until(() => load.lastAre('200'), 30_000, 'serving before the fault')
        load.phase = 'before'
        await delay(1000)
        load.phase = 'outage'
        await cluster.stop()
        await delay(OUTAGE_MS)
        load.phase = 'recovery'
        await cluster.start()
        await until(() => load.lastAre('200', 20), 60_000, 'serving again after the restart')
        load.phase = 'after'
        await delay(1000)
      } finally {
        await load.stop()
        report.count('crashes', server.child.exitCode === null ? 0 : 1)
        exitCode = await server.stopAndKeep()
      }
      for (const [phase, counts] of Object.entries(load.tally))
        for (const [answer, n] of Object.entries(counts)) report.count(`${phase}: ${answer}`, n)
      const answers = Object.values(load.all()).reduce((sum, n) => sum + n, 0)
      const audit = await postgresAuditCount(cluster.url)
      report.count('answers', answers)
      report.count('audit request records', audit.requests)
      report.count('refused while the audit buffer was full', audit.refusedUnaudited)
      report.count('rows kept for the security scan', await keepPostgresRows('postgres-outage', cluster.url))
      assert.equal(exitCode, 0, 'the server was still running and stopped cleanly')
      const unexpected = Object.keys(load.all()).filter((answer) => !ALLOWED.has(answer.replace(/ (predict|jobs)$/, '')))
      assert.deepEqual(unexpected, [], `unexpected answers: ${JSON.stringify(load.all())}`)
      assert.ok((load.tally.outage?.['503 service_unavailable jobs'] ?? 0) > 0, 'GET /v1/jobs answered 503 while the database was down')
      assert.equal(audit.requests + audit.refusedUnaudited, answers, 'every answer has its audit record, written after the restart')
    },
  )
})
