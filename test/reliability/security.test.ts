/**
 * Security checks, run last: admin routes refuse every non-admin key; one key cannot see
 * another's jobs or usage; every answer carries the security headers and no CORS grant; and
 * then no key created anywhere in the run appears in anything the run wrote: server logs,
 * databases (audit rows included), answers' bodies and the metrics page.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { generateKey } from '../../src/keys/format.js'
import { SECURITY_HEADERS } from '../../src/http/security-headers.js'
import { delay } from './load.js'
import { rawRequest, sendRaw } from './raw-http.js'
import { KEYS_FILE, artifactsDir, saveArtifact, scenario } from './report.js'
import { fillPath, routesOf } from './routes.js'
import { UNLIMITED, createKeyRecords, newDataDir, startReliabilityServer } from './server.js'

interface Seen {
  label: string
  status: number
  headers: Record<string, string | undefined>
  body: string
}

const seen: Seen[] = []

async function call(label: string, url: string, init: RequestInit = {}): Promise<Seen> {
  const response = await fetch(url, init)
  const answer: Seen = { label, status: response.status, headers: Object.fromEntries(response.headers), body: await response.text() }
  seen.push(answer)
  return answer
}

function filesBelow(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return filesBelow(full)
    return entry.isFile() && entry.name !== KEYS_FILE ? [full] : []
  })
}

test('security: scopes, isolation, headers, CORS, and no key in anything written', { timeout: 300_000 }, async () => {
  await scenario('security', 'Security checks', async (report) => {
    const dataDir = newDataDir('security')
    const [admin, alice, bob, revokedAdmin, expiringAdmin] = await createKeyRecords({ dataDir }, [
      { name: 'admin', scopes: ['admin'], limits: UNLIMITED },
      { name: 'alice', limits: UNLIMITED },
      { name: 'bob', limits: UNLIMITED },
      { name: 'revoked-admin', scopes: ['admin'], revoked: true },
      { name: 'expiring-admin', scopes: ['admin'], expiresAt: Date.now() + 1500 },
    ])
    const server = await startReliabilityServer('security', { dataDir }, ['--log-level', 'trace'])
    report.done =
      'every route probed with admin, predict, revoked, expired, unknown and no keys; jobs and usage of one key read with another; headers of every answer checked; then every file the run wrote (server logs, SQLite and PostgreSQL rows, answer bodies, /metrics) searched for every key created'
    const withKey = (key: string | undefined, more: Record<string, string> = {}) => ({ ...(key ? { 'x-api-key': key } : {}), ...more })
    try {
      await delay(1600) // the expiring key expires
      const routes = (await routesOf(server.url)).filter((route) => route.path !== '/nowhere/at/all')
      report.count('routes', routes.length)

      // Admin routes: those a predict key is refused by scope. Every non-admin key must be refused there.
      const adminRoutes = []
      for (const route of routes) {
        const url = `${server.url}${fillPath(route.path)}`
        const asPredict = await call(`${route.method} ${route.path} (predict key)`, url, {
          method: route.method,
          headers: withKey(alice!.key),
        })
        if (asPredict.status === 403 && JSON.parse(asPredict.body).code === 'insufficient_scope') adminRoutes.push(route)
      }
      report.count('admin routes', adminRoutes.length)
      assert.ok(
        adminRoutes.some((route) => route.path === '/v1/audit'),
        'GET /v1/audit is an admin route',
      )
      const nonAdmin = {
        alice: alice!.key,
        bob: bob!.key,
        revoked: revokedAdmin!.key,
        expired: expiringAdmin!.key,
        unknown: generateKey(),
        none: undefined,
      }
      for (const route of adminRoutes) {
        const url = `${server.url}${fillPath(route.path)}`
        for (const [who, key] of Object.entries(nonAdmin)) {
          const answer = await call(`${route.method} ${route.path} (${who})`, url, { method: route.method, headers: withKey(key) })
          report.add('admin route refusals checked')
          assert.ok([401, 403].includes(answer.status), `${route.method} ${route.path} answered ${answer.status} to the ${who} key`)
        }
        const asAdmin = await call(`${route.method} ${route.path} (admin)`, url, { method: route.method, headers: withKey(admin!.key) })
        assert.ok(![401, 403].includes(asAdmin.status), `${route.method} ${route.path} refused the admin key`)
      }

      // Isolation: Bob sees nothing of Alice's jobs or usage.
      const json = { 'content-type': 'application/json' }
      const created = await call('POST /v1/jobs (alice)', `${server.url}/v1/jobs`, {
        method: 'POST',
        headers: withKey(alice!.key, json),
        body: JSON.stringify({ texts: ['a fine film', 'a dull film'] }),
      })
      assert.equal(created.status, 202)
      const jobId = (JSON.parse(created.body) as { id: string }).id
      for (let i = 0; i < 3; i++)
        await call('POST /predict (alice)', `${server.url}/predict?text=fine`, { method: 'POST', headers: withKey(alice!.key) })
      await call('POST /predict (bob)', `${server.url}/predict?text=fine`, { method: 'POST', headers: withKey(bob!.key) })
      assert.equal((await call('GET job (bob)', `${server.url}/v1/jobs/${jobId}`, { headers: withKey(bob!.key) })).status, 404)
      assert.equal(
        (await call('DELETE job (bob)', `${server.url}/v1/jobs/${jobId}`, { method: 'DELETE', headers: withKey(bob!.key) })).status,
        404,
      )
      const bobsJobs = await call('GET /v1/jobs (bob)', `${server.url}/v1/jobs`, { headers: withKey(bob!.key) })
      assert.equal(bobsJobs.status, 200)
      assert.ok(!bobsJobs.body.includes(jobId), "Alice's job is not in Bob's list")
      assert.equal((await call('GET job (alice)', `${server.url}/v1/jobs/${jobId}`, { headers: withKey(alice!.key) })).status, 200)
      await delay(300) // usage is read from the audit log, written within --audit-flush-ms
      const bobsUsage = await call('GET /v1/usage (bob)', `${server.url}/v1/usage?bucket=minute`, { headers: withKey(bob!.key) })
      const usageRows = (JSON.parse(bobsUsage.body) as { rows: { key_id: string }[] }).rows
      assert.ok(usageRows.length > 0 && usageRows.every((row) => row.key_id === bob!.id), "Bob's usage holds only Bob's rows")
      assert.equal(
        (await call('GET /v1/usage?key=alice (bob)', `${server.url}/v1/usage?key=${alice!.id}`, { headers: withKey(bob!.key) })).status,
        403,
      )
      report.count('isolation checks', 6)

      // Keys where no key belongs: they must not be logged or stored from there either.
      await call('key in the query', `${server.url}/predict?text=fine&api_key=${alice!.key}`, {
        method: 'POST',
        headers: withKey(alice!.key),
      })
      await call('key in the path', `${server.url}/v1/jobs/${bob!.key}`, {
        headers: withKey(bob!.key, { 'x-request-id': bob!.key, 'user-agent': bob!.key }),
      })
      await call('key as the text', `${server.url}/predict`, {
        method: 'POST',
        headers: withKey(alice!.key, json),
        body: JSON.stringify({ text: `my key is ${admin!.key}` }),
      })

      // CORS stays closed, even for a preflight from another origin.
      const origin = { origin: 'https://elsewhere.example' }
      await call('OPTIONS preflight', `${server.url}/predict`, {
        method: 'OPTIONS',
        headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key' },
      })
      await call('GET /health from another origin', `${server.url}/health`, { headers: origin })
      await call('GET /docs', `${server.url}/docs`)
      const metrics = await call('GET /metrics (admin)', `${server.url}/metrics`, { headers: withKey(admin!.key) })
      saveArtifact('security-metrics', metrics.body)

      // Answers written by the HTTP parser's error handler, outside Fastify's hooks.
      for (const [label, bytes] of [
        [
          'broken chunking',
          rawRequest(
            'POST',
            '/predict',
            [
              ['Host', 'x'],
              ['Transfer-Encoding', 'chunked'],
            ],
            Buffer.from('zz\r\n'),
          ),
        ],
        [
          'huge headers',
          rawRequest('GET', '/health', [
            ['Host', 'x'],
            ['X-Big', 'a'.repeat(40_000)],
          ]),
        ],
        [
          'long path parameter',
          rawRequest('GET', `/v1/jobs/${'j'.repeat(200)}`, [
            ['Host', 'x'],
            ['X-API-Key', alice!.key],
            ['Connection', 'close'],
          ]),
        ],
      ] as const) {
        const answer = await sendRaw(server.port, bytes)
        seen.push({ label, status: answer.status ?? 0, headers: answer.headers, body: answer.body })
      }
    } finally {
      await server.stopAndKeep()
    }
    // Every body but one: a prediction echoes the text it was sent (the reference service's
    // contract), here a key sent on purpose as the text; it must still not reach logs or rows.
    const scanned = seen.filter((answer) => answer.label !== 'key as the text')
    saveArtifact('security-bodies', scanned.map((answer) => `${answer.status} ${answer.body.slice(0, 4096)}`).join('\n'))

    // Headers on every answer; never a CORS grant.
    const missing = seen.flatMap((answer) =>
      Object.entries({ ...SECURITY_HEADERS, 'cache-control': undefined }).flatMap(([name, value]) => {
        const got = answer.headers[name]
        if (name === 'cache-control') return got ? [] : [`${answer.label}: no cache-control`]
        return got === value ? [] : [`${answer.label} (${answer.status}): ${name}=${got}`]
      }),
    )
    const corsGrants = seen.filter((answer) => answer.headers['access-control-allow-origin'] !== undefined).map((answer) => answer.label)
    const apiNoStore = seen
      .filter((answer) => !answer.label.startsWith('GET /docs') && answer.headers['cache-control'] !== 'no-store')
      .map((answer) => answer.label)
    report.count('answers checked for headers', seen.length)
    report.count('answers missing a security header', missing.length)
    report.count('CORS grants', corsGrants.length)
    assert.deepEqual(missing, [], 'security headers on every answer')
    assert.deepEqual(apiNoStore, [], 'Cache-Control: no-store on every API answer')
    assert.deepEqual(corsGrants, [], 'no Access-Control-Allow-Origin')

    // The scan: every key of the run, in everything the run wrote.
    const keys = fs
      .readFileSync(path.join(artifactsDir(), KEYS_FILE), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as string)
    const files = filesBelow(artifactsDir())
    let bytes = 0
    let lines = 0
    const found: string[] = []
    for (const file of files) {
      const content = fs.readFileSync(file)
      bytes += content.length
      lines += content.toString('latin1').split('\n').length
      for (const key of keys) {
        // The whole key, or its secret part (everything after the visible prefix).
        if (content.includes(key) || content.includes(key.slice(10)))
          found.push(`${path.relative(artifactsDir(), file)}: ${key.slice(0, 10)}…`)
      }
    }
    report.count('keys searched for', keys.length)
    report.count('files scanned', files.length)
    report.count('lines scanned', lines)
    report.figure('MiB scanned', bytes / 1024 / 1024)
    report.count('keys found', found.length)
    assert.ok(
      files.some((file) => /stdout/.test(file)) && files.some((file) => /infergate\.db/.test(file)),
      'logs and databases were written and scanned',
    )
    assert.deepEqual(found, [], 'no key in anything written')
  })
})
