/**
 * `infergate audit verify|head|tail|export` and the audited `keys` commands, as a user runs
 * them: real processes on a real SQLite file, tampered with through a second connection.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import path from 'node:path'
import { describe, test } from 'node:test'
import SQLite from 'better-sqlite3'
import type { AuditRecordJson } from '../../src/audit/json.js'
import { AuditStore } from '../../src/audit/store.js'
import { openDatabase } from '../../src/db/database.js'
import { SQLITE_FILE } from '../../src/db/data-dir.js'
import { requestSample } from '../audit/fixtures.js'
import { tempDir } from '../helper.js'
import { runCli, spawnCli } from './process.js'

/** A data directory whose log holds `count` request records. */
async function logWith(count: number, sample = requestSample): Promise<string> {
  const dataDir = tempDir()
  const db = await openDatabase({ dataDir })
  await new AuditStore(db).append(Array.from({ length: count }, (_, i) => sample(i + 1)))
  await db.close()
  return dataDir
}

/** Parses JSON-lines output. */
function jsonLines(stdout: string): AuditRecordJson[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditRecordJson)
}

function tamper(dataDir: string, ...statements: string[]): void {
  const db = new SQLite(path.join(dataDir, SQLITE_FILE))
  try {
    for (const statement of statements) db.exec(statement)
  } finally {
    db.close()
  }
}

describe('infergate audit verify', () => {
  test('an untouched log: "N records, chain intact", exit 0', async () => {
    const result = await runCli(['audit', 'verify', '--data-dir', await logWith(12)])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout.trim(), '12 records, chain intact')
  })

  test('edited, deleted, inserted and reordered rows: the first broken seq and how, exit 1', async () => {
    const cases: [string, string[], RegExp][] = [
      ['edit', ['UPDATE audit_log SET cost = 0 WHERE seq = 7'], /^chain broken at seq 7: edited /],
      ['delete', ['DELETE FROM audit_log WHERE seq = 4'], /^chain broken at seq 5: deleted /],
      [
        'insert',
        [
          'UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 6',
          'UPDATE audit_log SET seq = seq - 999 WHERE seq >= 1000',
          "INSERT INTO audit_log SELECT 6, time, kind, 'forged', key_id, key_prefix, ip, method, route, model, status, outcome, cost, latency_us, texts, chars, action, actor, detail, prev_hash, hash, tokens_in, tokens_out FROM audit_log WHERE seq = 3",
        ],
        /^chain broken at seq 6: inserted /,
      ],
      [
        'swap',
        [
          'UPDATE audit_log SET seq = -1 WHERE seq = 8',
          'UPDATE audit_log SET seq = 8 WHERE seq = 10',
          'UPDATE audit_log SET seq = 10 WHERE seq = -1',
        ],
        /^chain broken at seq 8: reordered /,
      ],
    ]
    for (const [name, statements, expected] of cases) {
      const dataDir = await logWith(12)
      tamper(dataDir, ...statements)
      const result = await runCli(['audit', 'verify', '--data-dir', dataDir])
      assert.equal(result.code, 1, `${name}: ${result.stdout}${result.stderr}`)
      assert.match(result.stdout, expected, name)
      if (name !== 'swap') continue
      const json = JSON.parse((await runCli(['audit', 'verify', '--json', '--data-dir', dataDir])).stdout)
      assert.deepEqual([json.intact, json.break.seq, json.break.kind], [false, 8, 'reordered'])
    }
  })

  test('audit head anchors the chain; --expect-head catches a cut tail', async () => {
    const dataDir = await logWith(5)
    const head = await runCli(['audit', 'head', '--json', '--data-dir', dataDir])
    assert.equal(head.code, 0, head.stderr)
    const { seq, hash, time } = JSON.parse(head.stdout)
    assert.equal(seq, 5)
    assert.match(hash, /^[0-9a-f]{64}$/)
    // Times in --json are ISO 8601 in every command: verify's head says the same as head.
    assert.equal(new Date(time).toISOString(), time)
    const verified = await runCli(['audit', 'verify', '--json', '--data-dir', dataDir])
    assert.deepEqual(JSON.parse(verified.stdout), { intact: true, records: 5, head: { seq, hash, time } })
    const line = (await runCli(['audit', 'head', '--data-dir', dataDir])).stdout.trim()
    assert.match(line, new RegExp(`^${hash}  seq 5  `))
    tamper(dataDir, 'DELETE FROM audit_log WHERE seq = 5')
    assert.equal((await runCli(['audit', 'verify', '--data-dir', dataDir])).code, 0, 'a cut tail alone looks intact')
    const anchored = await runCli(['audit', 'verify', '--expect-head', hash, '--data-dir', dataDir])
    assert.equal(anchored.code, 1)
    assert.match(anchored.stdout, /^chain broken at seq 5: truncated /)
    // The line `audit head` printed feeds --expect-head as it is.
    const fromLine = await runCli(['audit', 'verify', '--expect-head', line, '--data-dir', dataDir])
    assert.equal(fromLine.code, 1)
    assert.match(fromLine.stdout, /^chain broken at seq 5: truncated /)
    const bad = await runCli(['audit', 'verify', '--expect-head', 'abc', '--data-dir', dataDir])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--expect-head: must be 64 hexadecimal/)
  })
})

describe('infergate audit tail and export', () => {
  test('tail prints the last records, as text or JSON', async () => {
    const dataDir = await logWith(30)
    const text = await runCli(['audit', 'tail', '-n', '3', '--data-dir', dataDir])
    assert.equal(text.code, 0, text.stderr)
    const lines = text.stdout.trim().split('\n')
    assert.equal(lines.length, 3)
    assert.equal(
      lines[0],
      '#28  2026-06-01 00:00:28.000  POST /predict  200 ok  key_x (igk_abcdef…)  127.0.0.1  sentiment texts=1 chars=48  cost=1  1.23ms  req=req-28',
    )
    const json = await runCli(['audit', 'tail', '--lines', '2', '--json', '--data-dir', dataDir])
    assert.deepEqual(
      jsonLines(json.stdout).map((r) => r.seq),
      [29, 30],
    )
    assert.equal((await runCli(['audit', 'tail', '-n', '0', '--data-dir', dataDir])).code, 2)
  })

  test('tail -f prints records as they are appended, until interrupted', async () => {
    const dataDir = await logWith(2)
    const child = spawnCli(['audit', 'tail', '-f', '-n', '1', '--data-dir', dataDir])
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()))
    const exited = once(child, 'exit')
    const seen = async (pattern: RegExp) => {
      while (!pattern.test(out)) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    await seen(/req=req-2\n/)
    const db = await openDatabase({ dataDir })
    await new AuditStore(db).append([requestSample(3), requestSample(4)])
    await db.close()
    await seen(/req=req-4\n/)
    child.kill('SIGINT')
    assert.deepEqual(await exited, [0, null])
    assert.deepEqual(
      out
        .trim()
        .split('\n')
        .map((line) => line.split('  ')[0]),
      ['#2', '#3', '#4'],
    )
  })

  test('export filters by time, key and outcome, as JSON lines or CSV', async () => {
    const dataDir = await logWith(20, (i) =>
      requestSample(i, i % 5 === 0 ? { outcome: 'rate_limited', status: 429, keyId: 'key_other' } : {}),
    )
    const jsonl = await runCli(['audit', 'export', '--outcome', 'rate_limited', '--data-dir', dataDir])
    assert.equal(jsonl.code, 0, jsonl.stderr)
    const records = jsonLines(jsonl.stdout)
    assert.deepEqual(
      records.map((r) => r.seq),
      [5, 10, 15, 20],
    )
    assert.ok(records.every((r) => r.key_id === 'key_other' && r.status === 429))

    const since = new Date(Date.UTC(2026, 5, 1) + 10_000).toISOString()
    const until = String(Date.UTC(2026, 5, 1) + 15_000)
    const csv = await runCli([
      'audit',
      'export',
      '--format',
      'csv',
      '--key',
      'key_x',
      '--since',
      since,
      '--until',
      until,
      '--data-dir',
      dataDir,
    ])
    assert.equal(csv.code, 0, csv.stderr)
    const [header, ...rows] = csv.stdout.trim().split('\n')
    assert.equal(
      header,
      'seq,time,kind,request_id,key_id,key_prefix,ip,method,route,model,status,outcome,cost,latency_ms,texts,chars,action,actor,detail,tokens_in,tokens_out,prev_hash,hash',
    )
    assert.deepEqual(
      rows.map((row) => Number(row.split(',')[0])),
      [11, 12, 13, 14],
    )

    for (const [args, message] of [
      [['--since', 'last tuesday'], /--since: "last tuesday" is not a time/],
      [['--outcome', 'fine'], /--outcome: must be one of ok, missing_key/],
      [['--format', 'xml'], /argument 'xml' is invalid/],
    ] as [string[], RegExp][]) {
      const result = await runCli(['audit', 'export', ...args, '--data-dir', dataDir])
      assert.equal(result.code, 2, args.join(' '))
      assert.match(result.stderr, message)
    }
  })
})

describe('audited key commands', () => {
  test('create, update and revoke write admin records by "cli"; keys list shows 24-hour counts', async () => {
    const dataDir = tempDir()
    const created = JSON.parse((await runCli(['keys', 'create', '--name', 'team', '--json', '--data-dir', dataDir])).stdout)
    assert.equal((await runCli(['keys', 'update', created.id, '--name', 'team-b', '--data-dir', dataDir])).code, 0)
    assert.equal((await runCli(['keys', 'revoke', created.id, '--data-dir', dataDir])).code, 0)
    const db = await openDatabase({ dataDir })
    const store = new AuditStore(db)
    await store.append([
      requestSample(1, { keyId: created.id, time: Date.now() - 60_000 }),
      requestSample(2, { keyId: created.id, time: Date.now() - 30_000, outcome: 'revoked_key', status: 403 }),
      requestSample(3, { keyId: created.id, time: Date.now() - 2 * 86_400_000 }),
    ])
    await db.close()

    const exported = await runCli(['audit', 'export', '--kind', 'admin', '--data-dir', dataDir])
    const admin = jsonLines(exported.stdout)
    assert.deepEqual(
      admin.map((r) => [r.action, r.actor, r.key_id, r.key_prefix]),
      [
        ['key.create', 'cli', created.id, created.prefix],
        ['key.update', 'cli', created.id, created.prefix],
        ['key.revoke', 'cli', created.id, created.prefix],
      ],
    )
    assert.ok(!exported.stdout.includes(created.key))
    assert.equal((await runCli(['audit', 'verify', '--data-dir', dataDir])).stdout.trim(), '6 records, chain intact')

    const list = await runCli(['keys', 'list', '--data-dir', dataDir])
    assert.match(list.stdout, /LAST USED\s+24H REQUESTS\s+24H REJECTED/)
    assert.match(list.stdout, new RegExp(`${created.id}\\s+team-b\\s+.*\\s2\\s+1\\s+default`))
    // One vocabulary in every --json output: `rejected` (as GET /v1/owners and /v1/usage say) and ISO times.
    const json = JSON.parse((await runCli(['keys', 'list', '--json', '--data-dir', dataDir])).stdout)
    const { since, ...counts } = json[0].last_24h
    assert.deepEqual(counts, { requests: 2, rejected: 1, by_outcome: { ok: 1, revoked_key: 1 } })
    assert.ok(Math.abs(Date.parse(since) - (Date.now() - 86_400_000)) < 60_000, since)
    assert.equal(new Date(since).toISOString(), since)
    const shown = JSON.parse((await runCli(['keys', 'show', created.id, '--json', '--data-dir', dataDir])).stdout)
    assert.deepEqual(Object.keys(shown.last_24h), Object.keys(json[0].last_24h))
    assert.deepEqual([shown.last_24h.requests, shown.last_24h.rejected], [2, 1])
  })
})
