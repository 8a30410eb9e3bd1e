/**
 * Can a create → cancel loop fill the disk? One key submits a ~4.9 MB job (10,000 texts) and
 * cancels it at once, 50 times, against the real app on a SQLite store; the sizes of the
 * database file and of its WAL are read after cycles 1, 10, 25 and 50. A cancelled job's
 * unprocessed rows are deleted, so each job reuses the pages the one before freed; the WAL is
 * checkpointed by a thread of its own past 4 MB and, should it fall behind, by the main
 * connection past 64 MB (`db/wal-checkpointer.ts`), so it stays below a fixed size too.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../../src/config.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'

const CYCLES = 50
const REPORTED = new Set([1, 10, 25, 50])
const TEXTS = 10_000

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1)

export async function runJobDisk(options: { log: (line: string) => void }): Promise<ScenarioReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-job-disk-'))
  const size = (file: string) => fs.statSync(path.join(dir, file), { throwIfNoEntry: false })?.size ?? 0
  const texts = Array.from({ length: TEXTS }, (_, i) => `${i} ${'lorem ipsum dolor sit amet '.repeat(18)}`)
  const jobBytes = Buffer.byteLength(JSON.stringify({ texts }))
  const app = await buildApp(testConfig({ logLevel: 'silent', dataDir: dir }))
  try {
    const limits = [{ name: 'day', limit: 1e9, windowMs: 86_400_000 }]
    const { key } = await app.services.keys.create({ name: 'bench', scopes: ['predict'], expiresAt: null, limits, models: null })
    // Nothing is classified: every text is still queued when its job is cancelled.
    await app.services.jobWorker.stop()
    const rows: string[][] = []
    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const created = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'x-api-key': key }, payload: { texts } })
      if (created.statusCode !== 202) throw new Error(`job refused: ${created.statusCode} ${created.body.slice(0, 200)}`)
      const id = created.json<{ id: string }>().id
      const cancelled = await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}`, headers: { 'x-api-key': key } })
      if (cancelled.statusCode !== 200) throw new Error(`cancel refused: ${cancelled.statusCode}`)
      if (!REPORTED.has(cycle)) continue
      const [database, log] = [size('infergate.db'), size('infergate.db-wal')]
      options.log(`  cycle ${cycle}: database ${megabytes(database)} MB, WAL ${megabytes(log)} MB`)
      rows.push([String(cycle), megabytes(database), megabytes(log), megabytes(database + log)])
    }
    const table = markdownTable(['after cycle', 'database file (MB)', 'WAL (MB)', 'together (MB)'], rows)
    return {
      id: 'job-disk',
      title: 'Disk used by a create → cancel loop of jobs',
      markdown: `${table}\n\n- ${CYCLES} cycles of one key submitting a ${megabytes(jobBytes)} MB job of ${fmt.int(TEXTS)} texts and cancelling it at once (in-process requests, as fast as the server takes them; SQLite store). When a cancel only blanked the texts, 50 cycles left 317.8 MB. The database file stops growing once the freed pages of one job are reused by the next; the WAL file keeps the largest size it reached, the most written before a checkpoint could start it over (a thread checkpoints past 4 MB, the main connection past 64 MB should that thread fall behind): a bound, not a sum over the cycles; it is emptied when the server stops.`,
      data: { jobBytes, rows },
    }
  } finally {
    await app.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
