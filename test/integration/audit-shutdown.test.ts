/**
 * Nothing lost on SIGTERM: under concurrent load, every answer that went through the server
 * has exactly one audit record, although many records were still in the buffer (a long flush
 * interval) when the signal came.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import { test } from 'node:test'
import { AuditStore } from '../../src/audit/store.js'
import { verifyChain } from '../../src/audit/verify.js'
import { openDatabase } from '../../src/db/database.js'
import { tempDir } from '../helper.js'
import { runCli, startServer } from './process.js'

interface Answer {
  status: number
  /** The X-Request-Id echoed by the server (absent only on an answer that bypassed the app). */
  requestId: string | undefined
}

/** One client: sends requests one after another on a keep-alive connection until one fails. */
async function client(url: URL, key: string, name: string, answers: Answer[]): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  for (let i = 0; ; i++) {
    const answer = await new Promise<Answer | undefined>((resolve) => {
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          agent,
          method: 'POST',
          path: '/predict?text=a%20fine%20film',
          headers: { 'x-api-key': key, 'x-request-id': `${name}-${i}` },
        },
        (response) => {
          response.resume()
          response.on('end', () =>
            resolve({ status: response.statusCode!, requestId: response.headers['x-request-id'] as string | undefined }),
          )
          response.on('error', () => resolve(undefined))
        },
      )
      request.on('error', () => resolve(undefined))
      request.end()
    })
    if (!answer) break
    answers.push(answer)
  }
  agent.destroy()
}

test('SIGTERM under concurrent load: one audit record for every answer the clients received', async () => {
  const dataDir = tempDir()
  const created = await runCli(['keys', 'create', '--name', 'load', '--limit', '1000000/1m', '--json', '--data-dir', dataDir])
  const { key } = JSON.parse(created.stdout) as { key: string }
  const server = await startServer(['--data-dir', dataDir, '--no-bootstrap', '--audit-flush-ms', '60000'])
  const url = new URL(server.url)
  const answers: Answer[] = []
  const clients = Array.from({ length: 32 }, (_, i) => client(url, key, `c${i}`, answers))
  while (answers.length < 600) await new Promise((resolve) => setTimeout(resolve, 10))
  const exitCode = server.stop('SIGTERM')
  await Promise.all(clients)
  assert.equal(await exitCode, 0, server.stderr())

  const db = await openDatabase({ dataDir })
  const store = new AuditStore(db)
  const records = await store.list({ kind: 'request' }, 1_000_000)
  const report = await verifyChain(store)
  await db.close()

  console.log(`# ${answers.length} answers received by the clients, ${records.length} audit records`)
  assert.ok(answers.length >= 600)
  assert.ok(
    answers.every((answer) => answer.requestId !== undefined),
    'every answer went through the app, none is a bare 503',
  )
  assert.equal(records.length, answers.length)
  assert.deepEqual(new Set(records.map((record) => record.requestId)), new Set(answers.map((answer) => answer.requestId)))
  const byId = new Map(records.map((record) => [record.requestId, record]))
  for (const answer of answers) assert.equal(byId.get(answer.requestId!)!.status, answer.status)
  assert.equal(report.intact && report.records, records.length + 1, 'the chain is intact (the key creation included)')
})
