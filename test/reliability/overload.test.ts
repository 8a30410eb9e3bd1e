/**
 * Overload: ten times more concurrent requests than the model queue holds, for a bounded
 * time. Pass: only 200/429/503 answers, `/health` keeps answering quickly meanwhile, memory
 * stays bounded (the peak is reported), and the audit log holds exactly one record per
 * answer (or counts it as refused while its buffer was full).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sqliteAuditCount } from './audit-count.js'
import { after, probeHealth, quantile, runLoad, status } from './load.js'
import { LONG, scenario, sized } from './report.js'
import { UNLIMITED, createKeys, newDataDir, startReliabilityServer } from './server.js'

const MAX_QUEUE = 16
const TEXTS_PER_REQUEST = 4
// The queue holds MAX_QUEUE / TEXTS_PER_REQUEST requests; ten times that many clients.
const CONCURRENCY = (10 * MAX_QUEUE) / TEXTS_PER_REQUEST
const DURATION_MS = sized(10_000, 120_000)
// The target is 50 ms; the assertion is generous because this machine is shared and noisy.
const HEALTH_P99_TARGET_MS = 50
const HEALTH_P99_BOUND_MS = 1000

test('overload: 10x the queue for a bounded time', { timeout: LONG ? 600_000 : 120_000 }, async () => {
  await scenario('overload', 'Overload', async (report) => {
    const dataDir = newDataDir('overload')
    const [free, limited] = await createKeys({ dataDir }, [
      { name: 'flood', limits: UNLIMITED },
      { name: 'flood-limited', limits: [{ name: 'second', limit: 50, windowMs: 1000 }] },
    ])
    const server = await startReliabilityServer('overload', { dataDir }, [
      '--max-queue',
      String(MAX_QUEUE),
      '--max-batch',
      '8',
      '--audit-buffer',
      '2000',
    ])
    report.done = `${CONCURRENCY} concurrent clients (10x a --max-queue of ${MAX_QUEUE} texts, ${TEXTS_PER_REQUEST} texts per request, one key in four limited to 50/s) for ${DURATION_MS / 1000} s, /health timed every 20 ms meanwhile from a thread of its own`
    const body = JSON.stringify({
      texts: Array.from({ length: TEXTS_PER_REQUEST }, (_, i) => `a rather splendid and moving film, take ${i}`),
    })
    let load
    let health
    try {
      const stop = after(DURATION_MS)
      ;[load, health] = await Promise.all([
        runLoad({
          concurrency: CONCURRENCY,
          stop,
          send: (i) =>
            status(`${server.url}/predict`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'x-api-key': i % 4 === 0 ? limited! : free! },
              body,
            }),
        }),
        probeHealth(server.url, DURATION_MS),
      ])
      assert.equal(await status(`${server.url}/health`), 200)
    } finally {
      report.figure('peak RSS MiB', server.peakRssMb())
      await server.stopAndKeep()
    }
    const p99 = quantile(health.latencies, 0.99)
    for (const [code, n] of Object.entries(load.statuses)) report.count(`answers ${code}`, n)
    report.count('answers', load.answers)
    report.count('/health probes', health.latencies.length + health.failures)
    report.figure('/health p50 ms', quantile(health.latencies, 0.5))
    report.figure('/health p99 ms', p99)
    report.figure(`/health p99 under ${HEALTH_P99_TARGET_MS} ms`, p99 < HEALTH_P99_TARGET_MS ? 'yes' : 'no')
    const audit = sqliteAuditCount(dataDir)
    report.count('audit request records', audit.requests)
    report.count('refused while the audit buffer was full', audit.refusedUnaudited)
    report.note =
      p99 < HEALTH_P99_TARGET_MS
        ? `/health p99 ${p99.toFixed(1)} ms, within the ${HEALTH_P99_TARGET_MS} ms target`
        : `/health p99 ${p99.toFixed(1)} ms MISSED the ${HEALTH_P99_TARGET_MS} ms target (asserted only under ${HEALTH_P99_BOUND_MS} ms: load generator and server share 2 noisy cores)`

    assert.deepEqual(
      Object.keys(load.statuses).filter((code) => !['200', '429', '503'].includes(code)),
      [],
      `unexpected answers: ${JSON.stringify(load.statuses)}`,
    )
    assert.ok((load.statuses['200'] ?? 0) > 0, 'some requests were served')
    assert.ok((load.statuses['503'] ?? 0) > 0, 'the queue overflowed (the load was heavy enough)')
    assert.equal(health.failures, 0, '/health always answered 200')
    assert.ok(p99 < HEALTH_P99_BOUND_MS, `/health p99 ${p99} ms`)
    assert.equal(audit.requests + audit.refusedUnaudited, load.answers, 'one audit record (or refusal count) per answer')
    for (const [code, n] of Object.entries(load.statuses))
      assert.equal((audit.byStatus[code] ?? 0) + (code === '503' ? audit.refusedUnaudited : 0), n, `audit records with status ${code}`)
  })
})
