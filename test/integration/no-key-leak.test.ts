/**
 * No key in the logs or the database: every route is called with valid, revoked, expired,
 * unknown and mangled keys, in every place a client might put one, on a real server; then the
 * log output and every byte of the SQLite files are searched for each key.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { AuditStore } from '../../src/audit/store.js'
import { verifyChain } from '../../src/audit/verify.js'
import { openDatabase } from '../../src/db/database.js'
import { generateKey } from '../../src/keys/format.js'
import { tempDir } from '../helper.js'
import { runCli, startServer } from './process.js'

const ROUTES: [method: string, path: string][] = [
  ['POST', '/predict?text=a%20fine%20film'],
  ['GET', '/v1/audit?limit=50'],
  ['GET', '/v1/usage?bucket=minute'],
  ['GET', '/metrics'],
  ['GET', '/health'],
  ['GET', '/ready'],
  ['GET', '/openapi.json'],
  ['GET', '/docs'],
  ['GET', '/nowhere'],
]
const SECRET_TEXT = 'zebra-quartz-unique-text-7731'

test('no key appears in the log output or in the database files', async () => {
  const dataDir = tempDir()
  const create = async (...args: string[]) =>
    JSON.parse((await runCli(['keys', 'create', '--json', '--data-dir', dataDir, ...args])).stdout) as { key: string; id: string }
  const admin = (await create('--name', 'admin', '--scopes', 'admin')).key
  const predict = await create('--name', 'predict')
  const revoked = await create('--name', 'to-revoke', '--scopes', 'admin,predict')
  const expiring = await create('--name', 'expiring', '--expires', '1s')
  const server = await startServer([
    '--data-dir',
    dataDir,
    '--no-bootstrap',
    '--log-level',
    'trace',
    '--auth-fail-limit',
    '100000/1m',
    '--trust-proxy',
    'loopback',
  ])
  // Changed while the server runs: the CLI and the server append to the same chain.
  assert.equal((await runCli(['keys', 'revoke', revoked.id, '--data-dir', dataDir])).code, 0)
  await new Promise((resolve) => setTimeout(resolve, 1100)) // the expiring key expires
  const unknown = generateKey()
  const keys = [admin, predict.key, revoked.key, expiring.key, unknown]
  const statuses = new Set<number>()
  try {
    for (const key of keys) {
      const variants: Record<string, string>[] = [
        { 'x-api-key': key },
        { authorization: `Bearer ${key}` },
        { 'x-api-key': `${key}x` },
        { 'x-api-key': key, 'x-request-id': key, 'x-forwarded-for': key, 'user-agent': key },
        { 'x-request-id': `id-${key}`, referer: `https://example.test/?key=${key}` }, // only in the URL and odd places
      ]
      for (const headers of variants) {
        for (const [method, route] of ROUTES) {
          const url = `${server.url}${route}${route.includes('?') ? '&' : '?'}api_key=${key}`
          const response = await fetch(url, { method, headers })
          statuses.add(response.status)
          await response.arrayBuffer()
        }
        const body = await fetch(`${server.url}/predict`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ text: `${SECRET_TEXT} ${key}` }),
        })
        statuses.add(body.status)
        await body.arrayBuffer()
      }
    }
  } finally {
    assert.equal(await server.stop(), 0)
  }
  for (const status of [200, 401, 403, 404, 422]) assert.ok(statuses.has(status), `no ${status} among ${[...statuses].join(', ')}`)

  const log = server.stdout()
  assert.ok(log.split('\n').length > 100, 'the log has lines to search')
  const files = fs.readdirSync(dataDir).map((file) => fs.readFileSync(path.join(dataDir, file)))
  const bytes = Buffer.concat(files)
  for (const key of keys) {
    const secret = key.slice(10) // everything after the visible prefix
    assert.ok(!log.includes(key) && !log.includes(secret), `a key appeared in the log: ${key.slice(0, 10)}…`)
    assert.ok(!bytes.includes(key) && !bytes.includes(secret), `a key appeared in the database files: ${key.slice(0, 10)}…`)
  }
  assert.ok(!bytes.includes(SECRET_TEXT), 'a prediction text was stored')

  const db = await openDatabase({ dataDir })
  const store = new AuditStore(db)
  const report = await verifyChain(store)
  const records = [...(await store.list({ kind: 'request' }, 100_000)), ...(await store.list({ kind: 'unauthenticated' }, 100_000))]
  const outcomes = new Set<string>(records.map((record) => record.outcome))
  await db.close()
  assert.equal(report.intact, true)
  for (const outcome of ['ok', 'invalid_key', 'revoked_key', 'expired_key', 'insufficient_scope']) assert.ok(outcomes.has(outcome), outcome)
})
