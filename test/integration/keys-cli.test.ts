/**
 * The key lifecycle from the command line: owners and metadata, show, disable/enable, rotate,
 * revoke, last-admin protection, `keys find` on a real key and on look-alikes, `owners
 * show|update`, and the audit records they leave (actor `cli`).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { AuditStore } from '../../src/audit/store.js'
import { openDatabase } from '../../src/db/database.js'
import { KEY_PATTERN, KEY_REGEX } from '../../src/keys/format.js'
import type { KeyView } from '../../src/keys/view.js'
import { tempDir } from '../helper.js'
import { cliOnStore, runCli } from './process.js'

type Created = KeyView & { key: string }

describe('infergate keys lifecycle', () => {
  const dataDir = tempDir()
  const { cli, json } = cliOnStore(dataDir)
  let admin: Created
  let team: Created

  test('create with owner, metadata and limits; show prints it without the key', async () => {
    admin = await json<Created>('keys', 'create', '--name', 'ops', '--scopes', 'admin')
    team = await json<Created>(
      'keys',
      'create',
      '--name',
      'team-a prod',
      '--owner',
      'team-a',
      '--metadata',
      '{"plan":"pro"}',
      '--limit',
      '60/1m',
    )
    assert.match(team.key, KEY_REGEX)
    assert.deepEqual(
      [team.owner, team.metadata, team.limits, team.status],
      ['team-a', { plan: 'pro' }, [{ name: 'minute', limit: 60, window: '1m' }], 'active'],
    )
    assert.equal(admin.owner, 'default')

    const shown = await json<KeyView & { owner_limits: unknown; last_24h: { requests: number } }>('keys', 'show', team.id)
    assert.deepEqual([shown.id, shown.owner, shown.owner_limits, shown.last_24h.requests], [team.id, 'team-a', null, 0])
    const text = await cli('keys', 'show', team.id)
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /owner:\s+team-a/)
    assert.ok(!text.stdout.includes(team.key))
    const missing = await cli('keys', 'show', 'key_nope')
    assert.deepEqual([missing.code, missing.stderr.trim()], [1, 'infergate: no key with id key_nope'])
  })

  test('invalid owner, metadata or grace: exit code 2 and one line', async () => {
    const cases: [string[], RegExp][] = [
      [['keys', 'create', '--name', 'x', '--owner', 'bad owner'], /not an owner id/],
      [['keys', 'create', '--name', 'x', '--metadata', '[1]'], /metadata must be a JSON object/],
      [['keys', 'create', '--name', 'x', '--metadata', `{"a":"${'x'.repeat(5000)}"}`], /at most 4096/],
      [['keys', 'rotate', 'key_x', '--grace', '31d'], /longer than 30d/],
      [['keys', 'list', '--status', 'sleeping'], /--status must be one of/],
      [['owners', 'update', 'team-a'], /give --limit or --remove-limit/],
      [['owners', 'update', 'team-a', '--limit', 'lots'], /not a limit/],
      [
        ['keys', 'create', '--name', 'x', '--models', 'sentimnet'],
        /^infergate: invalid option: --models: unknown model "sentimnet" \(known: sentiment\); declare the server's other models with --model NAME=PATH or INFERGATE_MODEL, as for serve$/,
      ],
      [
        ['keys', 'update', 'key_x', '--models', 'sst2', '--model', 'sst-2=./models/sst2'],
        /unknown model "sst2" \(known: sentiment, sst-2\)/,
      ],
    ]
    for (const [args, message] of cases) {
      const result = await cli(...args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr.trim(), message)
    }
  })

  test('--models takes the built-in model and models declared as for serve (--model, INFERGATE_MODEL); nothing is loaded', async () => {
    const flag = await json<KeyView>('keys', 'create', '--name', 'm', '--models', 'sentiment,sst2', '--model', 'sst2=./not/loaded')
    assert.deepEqual(flag.models, ['sentiment', 'sst2'])
    const env = await runCli(['keys', 'update', flag.id, '--models', 'emotions', '--json', '--data-dir', dataDir], {
      INFERGATE_MODEL: 'emotions=./models/emotions',
    })
    assert.equal(env.code, 0, env.stderr)
    assert.deepEqual((JSON.parse(env.stdout) as KeyView).models, ['emotions'])
  })

  test('disable and enable round trip; list tells the states apart and filters by them', async () => {
    assert.equal((await json<KeyView>('keys', 'disable', team.id)).status, 'disabled')
    const disabled = await json<KeyView[]>('keys', 'list', '--status', 'disabled')
    assert.deepEqual(
      disabled.map((k) => k.id),
      [team.id],
    )
    const listed = await cli('keys', 'list')
    assert.match(listed.stdout, new RegExp(`${team.id}\\s+team-a prod\\s+team-a\\s+${team.prefix}\\s+predict\\s+disabled`))
    const enabled = await json<KeyView>('keys', 'enable', team.id)
    assert.deepEqual([enabled.status, enabled.enabled], ['active', true])
    assert.deepEqual(
      (await json<KeyView[]>('keys', 'list', '--owner', 'team-a')).map((k) => k.status),
      ['active'],
    )
  })

  test('update changes metadata and refuses to take admin from the last admin key', async () => {
    const updated = await json<KeyView>('keys', 'update', team.id, '--metadata', '{"plan":"free"}', '--name', 'team-a main')
    assert.deepEqual([updated.name, updated.metadata], ['team-a main', { plan: 'free' }])
    assert.equal((await json<KeyView>('keys', 'update', team.id, '--no-metadata')).metadata, null)
    for (const args of [
      ['keys', 'update', admin.id, '--scopes', 'predict'],
      ['keys', 'disable', admin.id],
      ['keys', 'revoke', admin.id],
    ]) {
      const result = await cli(...args)
      assert.equal(result.code, 1, args.join(' '))
      assert.match(result.stderr, /last active admin key/)
    }
  })

  test('update --limit changes the named limit and keeps the others; --remove-limit drops one; --replace-limits replaces all', async () => {
    const key = await json<Created>('keys', 'create', '--name', 'limits', '--limit', '60/1m', '--limit', 'day=10000/1d')
    const limits = async (...args: string[]) => (await json<KeyView>('keys', 'update', key.id, ...args)).limits
    const minute600 = { name: 'minute', limit: 600, window: '1m' }
    assert.deepEqual(await limits('--limit', '600/1m'), [minute600, { name: 'day', limit: 10000, window: '1d' }])
    assert.deepEqual(await limits('--remove-limit', '1d', '--limit', 'burst=10/5s'), [
      minute600,
      { name: 'burst', limit: 10, window: '5s' },
    ])
    assert.deepEqual(await limits('--replace-limits', '--limit', '30/1m'), [{ name: 'minute', limit: 30, window: '1m' }])
    const cases: [string[], RegExp][] = [
      [['--remove-limit', 'day'], /^infergate: invalid option: --remove-limit: no limit is named "day": its limits are minute=30\/1m$/],
      [['--remove-limit', 'minute'], /--remove-limit: the edit removes every limit of the key.*--default-limits/],
      [['--replace-limits'], /--replace-limits needs the new limits/],
      [['--replace-limits', '--limit', '1/1s', '--remove-limit', 'minute'], /--replace-limits and --remove-limit exclude each other/],
      [['--default-limits', '--limit', '1/1s'], /--default-limits excludes --limit/],
    ]
    for (const [args, message] of cases) {
      const result = await cli('keys', 'update', key.id, ...args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
      assert.match(result.stderr.trim(), message)
    }
    assert.deepEqual(
      (await json<KeyView>('keys', 'show', key.id)).limits,
      [{ name: 'minute', limit: 30, window: '1m' }],
      'unchanged by the refusals',
    )
  })

  test('rotate prints the new key once; the old one shows as rotated with its grace period', async () => {
    const rotated = await json<Created & { previous: KeyView }>('keys', 'rotate', team.id, '--grace', '1h')
    assert.match(rotated.key, KEY_REGEX)
    assert.deepEqual([rotated.name, rotated.owner, rotated.limits], ['team-a main', 'team-a', team.limits])
    assert.deepEqual([rotated.previous.status, rotated.previous.rotated_to], ['rotated', rotated.id])
    const again = await cli('keys', 'rotate', team.id)
    assert.deepEqual([again.code, again.stderr.trim()], [1, `infergate: key ${team.id} was already rotated`])
    const text = await cli('keys', 'rotate', rotated.id, '--grace', '0')
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /the old key is refused from now on/)
    assert.match(text.stdout, new RegExp(KEY_PATTERN))
  })

  test('find names the key a leaked string is; look-alikes and strangers are told apart', async () => {
    const found = await json<{ verdict: string; prefix: string; key: KeyView }>('keys', 'find', admin.key)
    assert.deepEqual(
      [found.verdict, found.prefix, found.key.id, found.key.name, found.key.owner, found.key.status],
      ['found', admin.prefix, admin.id, 'ops', 'default', 'active'],
    )
    assert.ok('last_used_at' in found.key)
    // `-`: the key is read from stdin, so it never enters the shell history or the process list.
    const piped = await runCli(['keys', 'find', '-', '--json', '--data-dir', dataDir], {}, `${admin.key}\n`)
    assert.equal(piped.code, 0, piped.stderr)
    assert.equal((JSON.parse(piped.stdout) as { key: KeyView }).key.id, admin.id)
    const inLine = await cli('keys', 'find', `GET /x?token=${admin.key}&y=1`)
    assert.equal(inLine.code, 0, inLine.stderr)
    assert.match(inLine.stdout, new RegExp(`is key ${admin.id}`))
    assert.match(inLine.stdout, /owner:\s+default/)
    assert.ok(!inLine.stdout.includes(admin.key), 'the leaked key is never printed back')

    // The same shape, one character changed: the checksum no longer matches.
    const last = admin.key.at(-1) === 'A' ? 'B' : 'A'
    const lookAlike = admin.key.slice(0, -1) + last
    const bad = await cli('keys', 'find', lookAlike)
    assert.equal(bad.code, 1)
    assert.match(bad.stdout, /not an infergate key \(bad checksum\)/)
    const badJson = await cli('keys', 'find', lookAlike, '--json')
    assert.deepEqual(JSON.parse(badJson.stdout), { verdict: 'bad_checksum', prefix: admin.prefix, key: null })

    const stranger = await runCli(['keys', 'create', '--name', 'elsewhere', '--json', '--data-dir', tempDir()])
    const unknown = await cli('keys', 'find', (JSON.parse(stranger.stdout) as Created).key)
    assert.equal(unknown.code, 1)
    assert.match(unknown.stdout, /well-formed infergate key, but not one of this store/)
    const notAKey = await cli('keys', 'find', 'sk_live_123')
    assert.equal(notAKey.code, 1)
    assert.match(notAKey.stdout, /not an infergate key \(wrong format/)
  })

  test('owners update and show: shared limits, the owner’s keys and usage', async () => {
    const updated = await json<{ id: string; limits: unknown }>('owners', 'update', 'team-a', '--limit', '1000/1h')
    assert.deepEqual(updated.limits, [{ name: 'hour', limit: 1000, window: '1h' }])
    const added = await json<{ limits: unknown }>('owners', 'update', 'team-a', '--limit', 'day=20000/1d')
    assert.deepEqual(added.limits, [
      { name: 'hour', limit: 1000, window: '1h' },
      { name: 'day', limit: 20000, window: '1d' },
    ])
    const removed = await json<{ limits: unknown }>('owners', 'update', 'team-a', '--remove-limit', 'day')
    assert.deepEqual(removed.limits, [{ name: 'hour', limit: 1000, window: '1h' }])
    const owner = await json<{ id: string; limits: unknown; keys: KeyView[]; usage: { requests: number } }>('owners', 'show', 'team-a')
    assert.equal(owner.keys.length, 3, 'the original and two rotations')
    assert.ok(owner.keys.every((k) => k.owner === 'team-a'))
    assert.equal(owner.usage.requests, 0)
    const text = await cli('owners', 'show', 'team-a')
    assert.match(text.stdout, /shared limits: hour=1000\/1h/)
    assert.equal((await json<{ limits: unknown }>('owners', 'update', 'team-a', '--no-limits')).limits, null)
    const missing = await cli('owners', 'show', 'nobody')
    assert.deepEqual([missing.code, missing.stderr.trim()], [1, 'infergate: no key has the owner nobody and it has no limits'])
  })

  test('IP allow-lists: --allow-ip normalises the ranges, --any-ip clears them, a bad range is one line and exit 2', async () => {
    const created = await json<Created>('keys', 'create', '--name', 'office', '--owner', 'ip-team', '--allow-ip', '10.1.2.3/8, 2001:db8::1')
    assert.deepEqual(created.allowed_ips, ['10.0.0.0/8', '2001:db8::1/128'])
    assert.match((await cli('keys', 'show', created.id)).stdout, /allowed ips: +10\.0\.0\.0\/8,2001:db8::1\/128/)
    assert.equal((await json<KeyView>('keys', 'update', created.id, '--any-ip')).allowed_ips, null)
    const owner = await json<{ allowed_ips: string[] }>('owners', 'update', 'ip-team', '--allow-ip', '192.0.2.0/24')
    assert.deepEqual(owner.allowed_ips, ['192.0.2.0/24'])
    for (const args of [
      ['keys', 'create', '--name', 'bad', '--allow-ip', '10.0.0.0/33'],
      ['keys', 'update', created.id, '--allow-ip', 'example.com'],
      ['keys', 'update', created.id, '--allow-ip', '10.0.0.1', '--any-ip'],
      ['owners', 'update', 'ip-team', '--allow-ip', '300.1.1.1'],
    ]) {
      const result = await cli(...args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
    }
  })

  test('concurrency caps: --concurrency sets, --no-concurrency clears, on keys and owners; a bad value is one line and exit 2', async () => {
    const created = await json<Created>('keys', 'create', '--name', 'parallel', '--owner', 'cc-team', '--concurrency', '3')
    assert.equal(created.concurrency, 3)
    assert.match((await cli('keys', 'show', created.id)).stdout, /concurrency: +3 in flight/)
    const cleared = await cli('keys', 'update', created.id, '--no-concurrency')
    assert.match(cleared.stdout, /^store: SQLite /m)
    assert.equal((await json<KeyView>('keys', 'show', created.id)).concurrency, null)
    const owner = await json<{ concurrency: number }>('owners', 'update', 'cc-team', '--concurrency', '8')
    assert.equal(owner.concurrency, 8)
    assert.match((await cli('owners', 'show', 'cc-team')).stdout, /concurrency: +8 in flight, all keys together/)
    for (const args of [
      ['keys', 'create', '--name', 'bad', '--concurrency', '0'],
      ['keys', 'update', created.id, '--concurrency', 'many'],
      ['owners', 'update', 'cc-team', '--concurrency', '100001'],
    ]) {
      const result = await cli(...args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, /^infergate: .*--concurrency must be a whole number from 1 to 100000/)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
    }
  })

  test('revoke; every change above is an audit record by actor cli', async () => {
    assert.equal((await json<KeyView>('keys', 'revoke', team.id)).status, 'revoked')
    const db = await openDatabase({ dataDir })
    try {
      const records = await new AuditStore(db).list({ kind: 'admin' }, 1000)
      assert.ok(records.every((record) => record.actor === 'cli'))
      const actions = records.filter((record) => record.keyId === team.id).map((record) => record.action)
      assert.deepEqual(actions, ['key.create', 'key.disable', 'key.enable', 'key.update', 'key.update', 'key.rotate', 'key.revoke'])
      assert.deepEqual(records.filter((record) => record.action === 'owner.update').length, 6)
      for (const record of records) for (const key of [admin.key, team.key]) assert.ok(!JSON.stringify(record).includes(key))
    } finally {
      await db.close()
    }
  })
})
