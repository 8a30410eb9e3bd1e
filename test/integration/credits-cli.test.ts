/**
 * Credits from the command line (issue 19 part 1): `keys create --credits --refill`, `keys
 * update --credits / --add-credits / --no-credits / --refill / --no-refill`, `owners update`
 * with the same; bad values are one line and exit code 2, and nothing is stored.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { KeyView } from '../../src/keys/view.js'
import { tempDir } from '../helper.js'
import { cliOnStore } from './process.js'

type Created = KeyView & { key: string }
type Credits = { remaining: number; unit: string; refill: { amount: number; every: string } | null; next_refill_at: string | null } | null

describe('infergate keys and owners: credits', () => {
  const dataDir = tempDir()
  const { cli, json } = cliOnStore(dataDir)
  let key: Created

  test('create with a balance and a refill; show prints them; update sets, adds, stops the refill and removes the balance', async () => {
    const before = Date.now()
    key = await json<Created>('keys', 'create', '--name', 'metered', '--owner', 'acme', '--credits', '1000', '--refill', '1000/30d')
    const credits = key.credits
    assert.deepEqual([credits?.remaining, credits?.refill], [1000, { amount: 1000, every: '30d' }])
    const next = Date.parse(credits!.next_refill_at!)
    assert.ok(next >= before + 30 * 86_400_000 && next <= Date.now() + 30 * 86_400_000)
    const shown = await cli('keys', 'show', key.id)
    assert.match(shown.stdout, /credits: +1000 \(refill 1000\/30d, next /)
    assert.equal((await json<KeyView>('keys', 'update', key.id, '--credits', '5')).credits?.remaining, 5)
    const added = (await json<KeyView>('keys', 'update', key.id, '--add-credits', '7')).credits
    assert.deepEqual([added?.remaining, added?.refill?.amount], [12, 1000])
    const stopped = (await json<KeyView>('keys', 'update', key.id, '--no-refill')).credits
    assert.deepEqual(stopped, { remaining: 12, unit: 'requests', refill: null, next_refill_at: null })
    const text = await cli('keys', 'update', key.id, '--add-credits', '3')
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout, /credits 15;/)
    assert.equal((await json<KeyView>('keys', 'update', key.id, '--no-credits')).credits, null)
    const refillOnly = (await json<Created>('keys', 'create', '--name', 'refilled', '--refill', '50/1h')).credits
    assert.deepEqual([refillOnly?.remaining, refillOnly?.refill], [50, { amount: 50, every: '1h' }], 'a refill alone starts at its amount')
    const plain = await json<Created>('keys', 'create', '--name', 'plain')
    assert.equal(plain.credits, null)
  })

  test('--credits-unit tokens makes a balance of LLM tokens; a change of unit needs the new amount; a bad unit exits 2', async () => {
    const created = await json<Created>(
      'keys',
      'create',
      '--name',
      'llm',
      '--credits',
      '50000',
      '--credits-unit',
      'tokens',
      '--refill',
      '50000/30d',
    )
    assert.deepEqual([created.credits?.remaining, (created.credits as Credits)?.unit], [50000, 'tokens'])
    assert.match((await cli('keys', 'show', created.id)).stdout, /credits: +50000 tokens \(refill 50000\/30d, next /)
    const unitOnly = await cli('keys', 'update', created.id, '--credits-unit', 'requests')
    assert.equal(unitOnly.code, 2)
    assert.match(unitOnly.stderr, /--credits-unit: the balance counts tokens: give its new amount in requests/)
    const bad = await cli('keys', 'update', created.id, '--credits', '5', '--credits-unit', 'bytes')
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--credits-unit: "bytes" is not one of requests, tokens/)
    const changed = (await json<KeyView>('keys', 'update', created.id, '--credits', '20', '--credits-unit', 'requests')).credits as Credits
    assert.deepEqual([changed?.remaining, changed?.unit], [20, 'requests'])
  })

  test('owners update sets the balance every key of the owner shares; show prints it', async () => {
    const owner = await json<{ credits: Credits }>('owners', 'update', 'acme', '--credits', '300', '--refill', '300/1d')
    assert.deepEqual([owner.credits?.remaining, owner.credits?.refill], [300, { amount: 300, every: '1d' }])
    assert.equal((await json<{ credits: Credits }>('owners', 'update', 'acme', '--add-credits', '1')).credits?.remaining, 301)
    const shown = await cli('owners', 'show', 'acme')
    assert.match(shown.stdout, /credits: +301 \(refill 300\/1d, next /)
    assert.equal((await json<{ credits: Credits }>('owners', 'update', 'acme', '--no-credits')).credits, null)
  })

  test('bad values and combinations: exit code 2, one line, nothing stored', async () => {
    const plain = await json<Created>('keys', 'create', '--name', 'unmetered')
    for (const [args, message] of [
      [['keys', 'create', '--name', 'x', '--credits', '-1'], /--credits: "-1" is not a whole number of credits from 0 to 9007199254740991/],
      [['keys', 'create', '--name', 'x', '--credits', '1.5'], /not a whole number/],
      [['keys', 'create', '--name', 'x', '--credits', '9007199254740992'], /not a whole number/],
      [['keys', 'create', '--name', 'x', '--credits', 'lots'], /not a whole number/],
      [['keys', 'create', '--name', 'x', '--refill', '1000'], /--refill: "1000" is not a refill such as 1000\/30d/],
      [['keys', 'create', '--name', 'x', '--refill', '1000/30x'], /not a duration/],
      [['keys', 'create', '--name', 'x', '--refill', '0/30d'], /from 1 to/],
      [['keys', 'update', plain.id, '--add-credits', '0'], /--add-credits: "0" is not a whole number of credits from 1/],
      [['keys', 'update', plain.id, '--add-credits', '5'], /--add-credits: there is no credit balance to add to/],
      [['keys', 'update', plain.id, '--no-credits', '--add-credits', '5'], /--no-credits excludes/],
      [['owners', 'update', 'acme', '--credits', '-3'], /not a whole number/],
      [['owners', 'update', 'acme', '--refill', 'often'], /not a refill/],
    ] as [string[], RegExp][]) {
      const result = await cli(...args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
      assert.match(result.stderr, message)
    }
    assert.equal((await json<KeyView>('keys', 'show', plain.id)).credits, null)
    const list = await json<KeyView[]>('keys', 'list', '--search', 'x')
    assert.deepEqual(
      list.filter((k) => k.name === 'x'),
      [],
    )
  })
})
