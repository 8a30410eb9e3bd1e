/**
 * A job survives the loss of its server: SIGKILL in the middle, start again on the same data,
 * and the job finishes with every result present exactly once.
 */
import assert from 'node:assert/strict'
import path from 'node:path'
import { test } from 'node:test'
import Database from 'better-sqlite3'
import { tempDir } from '../helper.js'
import { runCli, startServer } from './process.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('SIGKILL mid-job, restart: the job finishes with every result exactly once', async () => {
  const dataDir = tempDir()
  const created = await runCli(['keys', 'create', '--name', 'batch-client', '--limit', '100000/1m', '--json', '--data-dir', dataDir])
  const { key } = JSON.parse(created.stdout) as { key: string }
  const args = ['--data-dir', dataDir, '--no-bootstrap', '--job-lease', '1000']
  const headers = { 'x-api-key': key, 'content-type': 'application/json' }
  const texts = Array.from({ length: 30_000 }, (_, i) => (i % 3 === 0 ? `a wonderful film ${i}` : `a dull film ${i}`))

  const first = await startServer(args)
  const { id } = (await (await fetch(`${first.url}/v1/jobs`, { method: 'POST', headers, body: JSON.stringify({ texts }) })).json()) as {
    id: string
  }
  let done = 0
  while (done < 100) {
    await delay(50)
    done = ((await (await fetch(`${first.url}/v1/jobs/${id}`, { headers })).json()) as { done: number }).done
  }
  await first.stop('SIGKILL')
  assert.ok(done < texts.length, `the job finished before the kill (${done})`)

  const second = await startServer(args)
  try {
    let status = ''
    for (let waited = 0; status !== 'succeeded'; waited += 100) {
      if (waited > 30_000) throw new Error(`job not finished after the restart: ${status}`)
      await delay(100)
      status = ((await (await fetch(`${second.url}/v1/jobs/${id}`, { headers })).json()) as { status: string }).status
    }
    const indices: number[] = []
    for (let offset: number | null = 0; offset !== null;) {
      const page = (await (await fetch(`${second.url}/v1/jobs/${id}?offset=${offset}&limit=250`, { headers })).json()) as {
        results: { index: number; sentiment: string }[]
        next_offset: number | null
        done: number
      }
      assert.equal(page.done, texts.length)
      for (const result of page.results) indices.push(result.index)
      offset = page.next_offset
    }
    assert.deepEqual(
      indices,
      texts.map((_, i) => i),
    )
  } finally {
    await second.stop()
  }
  const db = new Database(path.join(dataDir, 'infergate.db'), { readonly: true })
  const row = db
    .prepare('SELECT count(*) AS n, count(result) AS results, count(text) AS inputs FROM job_items WHERE job_id = ?')
    .get(id) as Record<string, number>
  db.close()
  assert.deepEqual(row, { n: texts.length, results: texts.length, inputs: 0 })
})
