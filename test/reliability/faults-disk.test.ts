/**
 * SQLite on a full disk: the data directory is a small tmpfs, filled up while load runs.
 * Requests that must write answer 503 `service_unavailable` (never 500), nothing crashes,
 * and once space returns the server recovers by itself and writes every audit record.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { sqliteAuditCount } from './audit-count.js'
import { delay, until } from './load.js'
import { PhasedLoad, answerOf } from './phases.js'
import { artifactSubdir, scenario, sized, skipped } from './report.js'
import { UNLIMITED, createKeys, startReliabilityServer } from './server.js'

const exec = promisify(execFile)
const TITLE = 'Faults: SQLite on a full disk'
const FULL_MS = sized(3000, 30_000)
const ALLOWED = new Set(['200', '202', '503 service_unavailable'])

/** Fills the file system holding `dir` until ENOSPC; returns the bytes written. */
function fill(file: string): number {
  const fd = fs.openSync(file, 'w')
  const chunk = Buffer.alloc(64 * 1024)
  let written = 0
  try {
    for (;;) written += fs.writeSync(fd, chunk)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
  } finally {
    fs.closeSync(fd)
  }
  return written
}

test('faults: SQLite on a full disk under load', { timeout: 180_000 }, async (t) => {
  const dataDir = artifactSubdir('data-disk')
  try {
    await exec('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dataDir])
  } catch (error) {
    const reason = `cannot mount a tmpfs here (${(error as Error).message.split('\n')[0]}): needs root or CAP_SYS_ADMIN`
    skipped('fault-disk', TITLE, 'SQLite data directory on a tiny tmpfs filled up under load', reason)
    t.skip(reason)
    return
  }
  const kept = artifactSubdir('data-disk-copy')
  try {
    await scenario('fault-disk', TITLE, async (report) => {
      const [key] = await createKeys({ dataDir }, [{ name: 'disk', limits: UNLIMITED }])
      const server = await startReliabilityServer('disk-full', { dataDir }, ['--max-jobs-per-key', '10000', '--audit-buffer', '500'])
      const headers = { 'x-api-key': key!, 'content-type': 'application/json' }
      const job = JSON.stringify({
        texts: Array.from({ length: 100 }, (_, i) => `a text long enough to take some room on the disk, number ${i}`),
      })
      report.done = `SQLite data directory on a 16 MiB tmpfs; 4 clients alternating POST /v1/jobs (writes) and POST /predict; the disk filled to ENOSPC for ${FULL_MS / 1000} s once writes fail, then the filler removed`
      const load = new PhasedLoad()
      load.start(4, async (i) =>
        i % 2 === 0
          ? `${await answerOf(`${server.url}/v1/jobs`, { method: 'POST', headers, body: job })} jobs`
          : `${await answerOf(`${server.url}/predict?text=fine`, { method: 'POST', headers })} predict`,
      )
      const filler = path.join(dataDir, 'filler')
      let exitCode: number | null
      try {
        await until(() => load.lastAre('20'), 30_000, 'serving before the fault')
        load.phase = 'before'
        await delay(1000)
        load.phase = 'full'
        report.count('filler bytes', fill(filler))
        await until(() => (load.tally.full?.['503 service_unavailable jobs'] ?? 0) > 0, 30_000, 'a write refused with 503')
        await delay(FULL_MS)
        load.phase = 'recovery'
        fs.rmSync(filler)
        await until(() => load.lastAre('20', 20), 60_000, 'serving again once space returned')
        load.phase = 'after'
        await delay(1000)
      } finally {
        await load.stop()
        report.count('crashes', server.child.exitCode === null ? 0 : 1)
        fs.rmSync(filler, { force: true })
        exitCode = await server.stopAndKeep()
      }
      for (const [phase, counts] of Object.entries(load.tally))
        for (const [answer, n] of Object.entries(counts)) report.count(`${phase}: ${answer}`, n)
      const answers = Object.values(load.all()).reduce((sum, n) => sum + n, 0)
      const audit = sqliteAuditCount(dataDir)
      report.count('answers', answers)
      report.count('audit request records', audit.requests)
      report.count('refused while the audit buffer was full', audit.refusedUnaudited)
      for (const file of fs.readdirSync(dataDir)) fs.copyFileSync(path.join(dataDir, file), path.join(kept, file))
      assert.equal(exitCode, 0, 'the server was still running and stopped cleanly')
      const unexpected = Object.keys(load.all()).filter((answer) => !ALLOWED.has(answer.replace(/ (predict|jobs)$/, '')))
      assert.deepEqual(unexpected, [], `unexpected answers: ${JSON.stringify(load.all())}`)
      assert.equal(audit.requests + audit.refusedUnaudited, answers, 'every answer has its audit record once space returned')
    })
  } finally {
    await exec('umount', ['-l', dataDir]).catch(() => {})
  }
})
