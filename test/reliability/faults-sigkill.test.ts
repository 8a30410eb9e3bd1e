/**
 * Two instances share one PostgreSQL store (a private cluster); jobs are submitted to both
 * while predictions run, and one instance is killed with SIGKILL mid-load. The survivor takes
 * over the killed one's leases: every job finishes with every result present exactly once.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { runLoad, status, until } from './load.js'
import { scenarioOnCluster } from './postgres-cluster.js'
import { keepPostgresRows } from './pg-dump.js'
import { sized } from './report.js'
import { UNLIMITED, createKeys, newDataDir, startReliabilityServer } from './server.js'

const TITLE = 'Faults: SIGKILL of one of two instances'
const JOBS = sized(6, 30)
const TEXTS = sized(400, 2000)

interface JobRow {
  id: string
  status: string
  total: number
  items: number
  results: number
  distinct_idx: number
  inputs: number
}

async function jobRows(url: string): Promise<JobRow[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<JobRow>(`
      SELECT j.id, j.status, j.total, count(i.idx)::int AS items, count(i.result)::int AS results,
             count(DISTINCT i.idx)::int AS distinct_idx, count(i.text)::int AS inputs
      FROM jobs j LEFT JOIN job_items i ON i.job_id = j.id GROUP BY j.id`)
    return rows
  } finally {
    await client.end()
  }
}

test('faults: SIGKILL of one of two instances mid-load loses no job', { timeout: 300_000 }, async (t) => {
  await scenarioOnCluster(
    t,
    { id: 'fault-sigkill', title: TITLE, done: 'two instances on one PostgreSQL store, one killed mid-load' },
    async (cluster, report) => {
      const store = { dataDir: newDataDir('sigkill'), databaseUrl: cluster.url }
      const [key] = await createKeys(store, [{ name: 'two-instances', limits: UNLIMITED }])
      const args = ['--job-lease', '1000', '--max-jobs-per-key', '1000', '--max-batch', '16']
      const [a, b] = await Promise.all([startReliabilityServer('sigkill-a', store, args), startReliabilityServer('sigkill-b', store, args)])
      report.done = `${JOBS} jobs of ${TEXTS} texts submitted alternately to two instances sharing a private PostgreSQL cluster (--job-lease 1s), 2 prediction clients per instance; instance A killed with SIGKILL once work was under way; B left to finish`
      const headers = { 'x-api-key': key!, 'content-type': 'application/json' }
      let killed = false
      let finished = false
      try {
        const loadA = runLoad({
          concurrency: 2,
          stop: () => killed,
          send: () => status(`${a.url}/predict?text=steady`, { method: 'POST', headers }),
        })
        const loadB = runLoad({
          concurrency: 2,
          stop: () => finished,
          send: () => status(`${b.url}/predict?text=steady`, { method: 'POST', headers }),
        })
        for (let i = 0; i < JOBS; i++) {
          const target = i % 2 === 0 ? a : b
          const texts = Array.from({ length: TEXTS }, (_, n) => `job ${i} text ${n}: ${n % 3 === 0 ? 'wonderful' : 'dull'}`)
          assert.equal(await status(`${target.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ texts }) }), 202)
        }
        await until(
          async () => (await jobRows(cluster.url)).reduce((sum, job) => sum + job.results, 0) > (JOBS * TEXTS) / 10,
          60_000,
          'work under way',
        )
        const before = await jobRows(cluster.url)
        report.count(
          'results written before the kill',
          before.reduce((sum, job) => sum + job.results, 0),
        )
        await a.stopAndKeep('SIGKILL')
        killed = true
        await until(
          async () => (await jobRows(cluster.url)).every((job) => job.status === 'succeeded'),
          180_000,
          'every job finished on the survivor',
        )
        finished = true
        const [answersA, answersB] = await Promise.all([loadA, loadB])
        for (const [code, n] of Object.entries(answersA.statuses)) report.count(`A predictions ${code}`, n)
        for (const [code, n] of Object.entries(answersB.statuses)) report.count(`B predictions ${code}`, n)
        assert.deepEqual(Object.keys(answersB.statuses), ['200'], 'the survivor kept answering')
      } finally {
        killed = true
        finished = true
        await a.stopAndKeep('SIGKILL')
        await b.stopAndKeep()
      }
      const jobs = await jobRows(cluster.url)
      report.count('jobs', jobs.length)
      report.count(
        'texts',
        jobs.reduce((sum, job) => sum + job.total, 0),
      )
      report.count(
        'results',
        jobs.reduce((sum, job) => sum + job.results, 0),
      )
      report.count('rows kept for the security scan', await keepPostgresRows('sigkill', cluster.url))
      assert.equal(jobs.length, JOBS)
      for (const job of jobs) {
        assert.deepEqual(
          { status: job.status, items: job.items, results: job.results, distinct: job.distinct_idx, inputs: job.inputs },
          { status: 'succeeded', items: job.total, results: job.total, distinct: job.total, inputs: 0 },
          `job ${job.id}`,
        )
      }
    },
  )
})
