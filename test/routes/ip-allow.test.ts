/**
 * IP allow-lists (issue 19 part 5): a key, or every key of an owner, may be limited to some
 * addresses. From elsewhere the key gets the same `403 Invalid API key` as any refused key,
 * and the audit log says `ip_not_allowed`; the client address is the one `--trust-proxy`
 * resolves.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'

let app: FastifyInstance
let admin: string

before(async () => {
  app = await buildTestApp({ config: { trustProxy: ['127.0.0.1/32'] } })
  ;({ key: admin } = await createKey(app, { scopes: ['admin'] }))
})
after(() => app.close())

const asAdmin = (method: 'POST' | 'PATCH' | 'GET', url: string, payload?: object) =>
  app.inject({ method, url, headers: { 'x-api-key': admin }, ...(payload && { payload }) })

const predictFrom = (key: string, remoteAddress: string, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/predict', remoteAddress, headers: { 'x-api-key': key, ...headers }, payload: { text: 'fine' } })

async function outcomes(keyId: string): Promise<string[]> {
  await app.services.audit!.flush()
  const rows = await app.services.db.kysely
    .selectFrom('audit_log')
    .select('outcome')
    .where('key_id', '=', keyId)
    .where('kind', '=', 'request')
    .orderBy('seq')
    .execute()
  return rows.map((row) => row.outcome)
}

describe('IP allow-lists', () => {
  test('a key limited to some ranges works from them; from elsewhere it is refused like any invalid key, audited as ip_not_allowed', async () => {
    const created = await asAdmin('POST', '/v1/keys', {
      name: 'office only',
      owner: 'acme',
      allowed_ips: ['10.0.0.0/8', '2001:db8::/32', ' 192.168.1.7 ', '172.16.5.9/12'],
    })
    assert.equal(created.statusCode, 201, created.body)
    const { key, id, allowed_ips } = created.json<{ key: string; id: string; allowed_ips: string[] }>()
    assert.deepEqual(allowed_ips, ['10.0.0.0/8', '2001:db8::/32', '192.168.1.7/32', '172.16.0.0/12'])
    for (const address of ['10.1.2.3', '::ffff:10.9.9.9', '2001:db8::1', '192.168.1.7', '172.31.255.255']) {
      assert.equal((await predictFrom(key, address)).statusCode, 200, address)
    }
    const unknown = await predictFrom('igk_' + 'A'.repeat(40), '10.1.2.3')
    for (const address of ['11.0.0.1', '192.168.1.8', '2001:db9::1', '::1']) {
      const refused = await predictFrom(key, address)
      assert.equal(refused.statusCode, 403, address)
      assert.deepEqual([refused.json().detail, refused.json().code], [unknown.json().detail, unknown.json().code])
    }
    const seen = await outcomes(id)
    assert.equal(seen.filter((outcome) => outcome === 'ok').length, 5)
    assert.equal(seen.filter((outcome) => outcome === 'ip_not_allowed').length, 4)
  })

  test('behind a trusted proxy the forwarded address counts; changing or clearing the list applies at once', async () => {
    const { key, id } = (await asAdmin('POST', '/v1/keys', { name: 'proxied', owner: 'acme', allowed_ips: ['203.0.113.0/24'] })).json<{
      key: string
      id: string
    }>()
    assert.equal((await predictFrom(key, '127.0.0.1', { 'x-forwarded-for': '203.0.113.10' })).statusCode, 200)
    assert.equal((await predictFrom(key, '127.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).statusCode, 403)
    // An untrusted peer cannot claim an allowed address.
    assert.equal((await predictFrom(key, '198.51.100.1', { 'x-forwarded-for': '203.0.113.10' })).statusCode, 403)
    const widened = await asAdmin('PATCH', `/v1/keys/${id}`, { allowed_ips: null })
    assert.equal(widened.json().allowed_ips, null)
    assert.equal((await predictFrom(key, '198.51.100.1')).statusCode, 200)
  })

  test("an owner's list applies to all its keys, on top of each key's own", async () => {
    const { key } = (await asAdmin('POST', '/v1/keys', { name: 'team key', owner: 'team-ip', allowed_ips: ['10.0.0.0/8'] })).json<{
      key: string
    }>()
    const { key: open } = (await asAdmin('POST', '/v1/keys', { name: 'open key', owner: 'team-ip' })).json<{ key: string }>()
    const patched = await asAdmin('PATCH', '/v1/owners/team-ip', { allowed_ips: ['10.1.0.0/16'] })
    assert.equal(patched.statusCode, 200, patched.body)
    assert.deepEqual(patched.json().allowed_ips, ['10.1.0.0/16'])
    assert.equal((await predictFrom(key, '10.1.2.3')).statusCode, 200)
    assert.equal((await predictFrom(key, '10.2.0.1')).statusCode, 403, "inside the key's list, outside the owner's")
    assert.equal((await predictFrom(open, '10.1.9.9')).statusCode, 200)
    assert.equal((await predictFrom(open, '192.0.2.1')).statusCode, 403)
    const cleared = await asAdmin('PATCH', '/v1/owners/team-ip', { allowed_ips: null })
    assert.equal(cleared.json().allowed_ips, null)
    assert.equal((await predictFrom(open, '192.0.2.1')).statusCode, 200)
  })

  test('anything that is not an address or a range is a 422 naming the field, and nothing is stored', async () => {
    const before = (await asAdmin('GET', '/v1/keys?limit=200')).json<{ total: number }>().total
    for (const allowed_ips of [
      ['10.0.0.0/33'],
      ['300.1.1.1'],
      ['example.com'],
      ['10.0.0.0/8', 'x'],
      [],
      ['a\u0000b'],
      Array(101).fill('10.0.0.1'),
      'x',
    ]) {
      const answer = await asAdmin('POST', '/v1/keys', { name: 'bad', owner: 'acme', allowed_ips })
      assert.equal(answer.statusCode, 422, `${JSON.stringify(allowed_ips).slice(0, 40)}: ${answer.body}`)
      const detail = answer.json<{ detail: { loc: unknown[] }[] }>().detail
      assert.deepEqual(detail[0]!.loc.slice(0, 2), ['body', 'allowed_ips'])
    }
    assert.equal((await asAdmin('GET', '/v1/keys?limit=200')).json<{ total: number }>().total, before)
    const owner = await asAdmin('PATCH', '/v1/owners/acme', { allowed_ips: ['not-an-ip'] })
    assert.equal(owner.statusCode, 422)
  })
})
