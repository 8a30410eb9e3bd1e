/**
 * Bad input, generated: thousands of malformed requests built by fast-check, across every
 * route of the OpenAPI document (read from the running server, so new routes are included),
 * sent as raw bytes over real sockets. Pass: no 5xx, no crash, `/health` answers afterwards,
 * and every error answer has the documented shape `{detail, code, request_id}` (OpenAI's `{error, request_id}` on the
 * OpenAI-compatible routes).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { generateKey } from '../../src/keys/format.js'
import { isErrorShape, isOpenAiErrorShape, status } from './load.js'
import type { RawAnswer } from './raw-http.js'
import { rawRequest, sendRaw } from './raw-http.js'
import { LONG, saveArtifact, scenario, sized } from './report.js'
import type { Route } from './routes.js'
import { routesOf } from './routes.js'
import { UNLIMITED, createKeys, newDataDir, startReliabilityServer } from './server.js'

const COUNT = sized(5_000, 50_000)
const SEED = Number(process.env.INFERGATE_RELIABILITY_SEED ?? 20261128)
const PARALLEL = 8
const MAX_BODY = 1024 * 1024

interface Generated {
  kind: string
  bytes: Buffer
  /** Broken framing: end the client's side after sending, so that the parser meets the end. */
  halfClose?: boolean
}

const latin1 = (text: string) => Buffer.from(text, 'latin1')
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'P0ST', 'GET\x00', '']

function arbitraries(routes: Route[], keys: { predict: string; admin: string }) {
  const route = fc.constantFrom(...routes)
  const segment = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom('job_0000000000000000', '..', '%2e%2e', '%00', '%ff%fe', 'sentiment', 'a'.repeat(300)),
  )
  const pathOf = (r: Route) =>
    fc
      .array(segment, { minLength: 2, maxLength: 2 })
      .map(([a, b]) => r.path.replace(/\{[^}]+\}/, encodeURIComponent(a!)).replace(/\{[^}]+\}/, encodeURIComponent(b!)))
  const key = fc.oneof(
    fc.constantFrom(keys.predict, keys.admin, generateKey(), `${keys.predict}x`, keys.predict.slice(0, -1), keys.predict.toUpperCase(), ''),
    fc.string({ maxLength: 80 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.nat({ max: 9000 }).map((n) => 'igk_' + 'A'.repeat(n)),
  )
  const keyHeader = key.chain((k) =>
    fc.constantFrom<[string, string | Buffer]>(
      ['X-API-Key', Buffer.from(k, 'utf8')],
      ['Authorization', Buffer.from(`Bearer ${k}`, 'utf8')],
    ),
  )
  const odd = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 30 }).map((s) => encodeURIComponent(s)),
    fc.constantFrom('%ff', '%c3%28', '%ed%a0%80', '%00', '%0d%0a', '%1b[31m', '\u00ff', '%', '%zz', '+', '&&&', '==='),
    fc.uint8Array({ maxLength: 8 }).map((bytes) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
  )
  const query = fc
    .array(
      fc.tuple(
        fc.constantFrom('text', 'limit', 'offset', 'status', 'bucket', 'since', 'until', 'key_id', 'kind', 'x', 'text[]', '__proto__'),
        odd,
      ),
      { maxLength: 6 },
    )
    .map((pairs) => (pairs.length ? '?' + pairs.map(([k, v]) => `${k}=${v}`).join('&') : ''))
  const json = fc.oneof(
    fc.json({ maxDepth: 4 }),
    fc.constantFrom(
      '{"text": 5}',
      '{"texts": "x"}',
      '{"texts": [1, 2]}',
      '{"texts": []}',
      '{"text": null}',
      '{"text": ["a"]}',
      '{"texts": [{"text": "a"}]}',
      '{"__proto__": {"x": 1}}',
      '{"constructor": {"prototype": {}}}',
      '{"text": "a", "text": "b"}',
      '{"text": "\\u0000\\u001f\\ud800"}',
      '{"text',
      'null',
      '[]',
      '"text"',
      '{"model": 7, "texts": ["a"]}',
    ),
    fc.integer({ min: 100, max: 200_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
    fc.integer({ min: 100, max: 20_000 }).map((n) => '{"text":'.repeat(n) + '"a"' + '}'.repeat(n)),
    fc.integer({ min: 1, max: 3 }).map((n) => JSON.stringify({ text: 'x'.repeat(n * 700_000) })),
    fc.integer({ min: 1, max: 2000 }).map((n) => JSON.stringify({ texts: Array.from({ length: n }, (_, i) => `t${i}`) })),
  )
  const body = fc.oneof(
    json.map((text) => Buffer.from(text, 'utf8')),
    fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom(
      Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      Buffer.from('{"text":"\xc3\x28"}', 'latin1'),
    ),
  )
  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-16',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/vnd.x+json',
    '',
    'application/json\x01',
  )

  /** A request that HTTP libraries would send: the JSON-level cases. */
  const wellFramed: fc.Arbitrary<Generated> = fc
    .record({
      route,
      method: fc.option(fc.constantFrom(...METHODS.filter((m) => /^[A-Z]+$/.test(m))), { freq: 3 }),
      query,
      keyHeader: fc.option(keyHeader, { freq: 5 }),
      withBody: fc.boolean(),
      body,
      contentType,
      dupKey: fc.boolean(),
    })
    .chain((r) =>
      pathOf(r.route).map((path) => {
        const headers: [string, string | Buffer][] = [
          ['Host', '127.0.0.1'],
          ['Connection', 'close'],
        ]
        if (r.keyHeader) headers.push(r.keyHeader)
        if (r.keyHeader && r.dupKey) headers.push(['X-API-Key', keys.predict])
        const payload = r.withBody ? r.body : Buffer.alloc(0)
        if (r.withBody) headers.push(['Content-Type', r.contentType], ['Content-Length', String(payload.length)])
        return {
          kind: r.withBody ? 'json-level body' : 'json-level query/method/key',
          bytes: rawRequest(r.method ?? r.route.method, latin1(path + r.query), headers, payload),
        }
      }),
    )

  /** Framing no library would produce: the HTTP-level cases. */
  const target = route.chain(pathOf)
  const broken: fc.Arbitrary<Generated> = fc.oneof(
    fc.tuple(target, fc.nat({ max: 50 }), fc.nat({ max: 50 })).map(([path, a, b]) => ({
      kind: 'conflicting content-length / transfer-encoding',
      bytes: rawRequest(
        'POST',
        path,
        [
          ['Host', 'x'],
          ['Content-Length', String(a)],
          ['Transfer-Encoding', 'chunked'],
          ['Content-Length', String(b)],
          ['X-API-Key', keys.predict],
        ],
        latin1(`5\r\nhello\r\n0\r\n\r\n`),
      ),
    })),
    fc
      .tuple(target, fc.constantFrom('chunked, identity', 'identity', 'gzip', 'chunked\x00', ' chunked', 'chunked, chunked'))
      .map(([path, te]) => ({
        kind: 'odd transfer-encoding',
        bytes: rawRequest(
          'POST',
          path,
          [
            ['Host', 'x'],
            ['Transfer-Encoding', te],
            ['Content-Type', 'application/json'],
            ['X-API-Key', keys.predict],
          ],
          latin1('7\r\n{"a":1}\r\n0\r\n\r\n'),
        ),
      })),
    fc
      .tuple(
        target,
        fc.constantFrom(
          'zz\r\n{}\r\n0\r\n\r\n',
          '5\r\n{}\r\n0\r\n\r\n',
          '2\r\n{}0\r\n\r\n',
          'ffffffffffffffffff\r\n{}',
          '-1\r\n{}\r\n',
          '2;ext="x\r\n{}\r\n0\r\n\r\n',
          '2\r\n{}\r\n',
          '\r\n\r\n',
        ),
      )
      .map(([path, chunks]) => ({
        kind: 'broken chunking',
        bytes: rawRequest(
          'POST',
          path,
          [
            ['Host', 'x'],
            ['Transfer-Encoding', 'chunked'],
            ['Content-Type', 'application/json'],
            ['X-API-Key', keys.predict],
          ],
          latin1(chunks),
        ),
      })),
    fc.tuple(target, fc.integer({ min: 17_000, max: 120_000 }), fc.boolean()).map(([path, size, many]) => ({
      kind: 'huge headers',
      bytes: rawRequest('GET', path, [
        ['Host', 'x'],
        ['X-API-Key', keys.predict],
        ...(many
          ? Array.from({ length: Math.floor(size / 20) }, (_, i): [string, string] => [`X-H${i}`, 'abcdefghij'])
          : [['X-Big', 'a'.repeat(size)] as [string, string]]),
      ]),
    })),
    fc
      .tuple(
        target,
        fc.uint8Array({ minLength: 1, maxLength: 20 }),
        fc.constantFrom('X-API-Key', 'Content-Type', 'X-Request-Id', 'Host', 'Bad Name', 'Bad:Name', ''),
      )
      .map(([path, bytes, name]) => ({
        kind: 'control bytes in headers',
        bytes: rawRequest('GET', path, [
          ['Host', 'x'],
          [name, Buffer.concat([latin1('a'), Buffer.from(bytes)])],
        ]),
      })),
    fc
      .tuple(
        fc.constantFrom(...METHODS),
        fc.uint8Array({ maxLength: 40 }),
        fc.constantFrom('HTTP/1.1', 'HTTP/9.9', 'HTTP/1.1 extra', '', 'http/1.1'),
      )
      .map(([method, bytes, version]) => ({
        kind: 'broken request line',
        bytes: Buffer.concat([latin1(`${method} /`), Buffer.from(bytes), latin1(` ${version}\r\nHost: x\r\nConnection: close\r\n\r\n`)]),
      })),
    fc.tuple(target, fc.integer({ min: 1, max: 100 })).map(([path, missing]) => ({
      kind: 'body shorter than content-length',
      bytes: rawRequest(
        'POST',
        path,
        [
          ['Host', 'x'],
          ['Content-Type', 'application/json'],
          ['Content-Length', String(20 + missing)],
          ['X-API-Key', keys.predict],
        ],
        latin1('{"text":"truncated"}'),
      ),
    })),
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((bytes) => ({ kind: 'random bytes', bytes: Buffer.from(bytes) })),
  )
  return fc.oneof(
    { arbitrary: wellFramed, weight: 3 },
    { arbitrary: broken.map((generated) => ({ ...generated, halfClose: true })), weight: 2 },
  )
}

interface Tally {
  byStatus: Record<string, number>
  byKind: Record<string, number>
  serverErrors: string[]
  badShape: string[]
  noAnswer: number
  /** Closed without an answer for no good reason (CONNECT and bodies over the limit have one). */
  unexplainedCloses: string[]
  /** Every answer's status line and body (cut at 4 KiB), for the security scan. */
  bodies: string[]
}

function judge(tally: Tally, generated: Generated, answer: RawAnswer): void {
  tally.byKind[generated.kind] = (tally.byKind[generated.kind] ?? 0) + 1
  const key = answer.status === null ? (answer.timedOut ? 'timeout' : 'closed') : String(answer.status)
  tally.byStatus[key] = (tally.byStatus[key] ?? 0) + 1
  tally.bodies.push(`${key} ${answer.body.slice(0, 4096)}`)
  if (answer.status === null) {
    tally.noAnswer++
    const method = generated.bytes.subarray(0, generated.bytes.indexOf(' ')).toString('latin1')
    const closed = `${generated.kind} (closed without answer, ${method.slice(0, 10)})`
    tally.byKind[closed] = (tally.byKind[closed] ?? 0) + 1
    // Node closes CONNECT connections (no proxying here); a body over --max-body-size may be
    // answered 413 and reset before the client has read the answer; bare line breaks before
    // the end are no request at all (HTTP allows empty lines before a request line).
    const noRequest = /^[\r\n]*$/.test(generated.bytes.toString('latin1'))
    if (method !== 'CONNECT' && !noRequest && generated.bytes.length <= MAX_BODY) {
      tally.unexplainedCloses.push(
        `${generated.kind} (${generated.bytes.length} bytes): ${generated.bytes.subarray(0, 300).toString('latin1')}`,
      )
    }
    return
  }
  const sample = () =>
    `${generated.kind}: ${generated.bytes.subarray(0, 160).toString('latin1')} -> ${answer.status} ${answer.body.slice(0, 200)}`
  if (answer.status >= 500) tally.serverErrors.push(sample())
  const isHead = generated.bytes.subarray(0, 5).toString('latin1') === 'HEAD '
  // The OpenAI-compatible routes answer errors in OpenAI's shape, so that its SDKs understand them
  // (what no route handles there, e.g. another method, keeps infergate's).
  const openAi = /^[A-Z]+ \/v1\/(chat\/completions|completions|embeddings)[?# ]/.test(generated.bytes.subarray(0, 40).toString('latin1'))
  const shaped = isErrorShape(answer.body) || (openAi && isOpenAiErrorShape(answer.body))
  if (answer.status >= 400 && !isHead && !shaped) tally.badShape.push(sample())
}

test(`bad input: ${COUNT} generated malformed requests over real sockets`, { timeout: LONG ? 3_600_000 : 300_000 }, async () => {
  await scenario('bad-input', 'Bad input, generated', async (report) => {
    const dataDir = newDataDir('bad-input')
    const [predict, admin] = await createKeys({ dataDir }, [
      { name: 'fuzz-predict', limits: UNLIMITED },
      { name: 'fuzz-admin', scopes: ['admin', 'predict'], limits: UNLIMITED },
    ])
    const server = await startReliabilityServer('bad-input', { dataDir }, ['--log-level', 'info'])
    const routes = await routesOf(server.url)
    const requests = fc.sample(arbitraries(routes, { predict: predict!, admin: admin! }), { numRuns: COUNT, seed: SEED })
    report.done = `${COUNT} requests generated by fast-check (seed ${SEED}) over ${routes.length} routes read from /openapi.json, sent as raw bytes on real sockets: wrong methods, odd keys, invalid UTF-8 and control characters in query and body, deep and huge JSON, wrong types, duplicate parameters, huge headers, conflicting Content-Length/Transfer-Encoding, broken chunking`
    const tally: Tally = { byStatus: {}, byKind: {}, serverErrors: [], badShape: [], noAnswer: 0, unexplainedCloses: [], bodies: [] }
    const started = Date.now()
    let next = 0
    try {
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < requests.length) {
            const generated = requests[next++]!
            judge(tally, generated, await sendRaw(server.port, generated.bytes, { halfClose: generated.halfClose, timeoutMs: 15_000 }))
          }
        }),
      )
      report.count('requests', requests.length)
      report.count('routes', routes.length)
      for (const [status, n] of Object.entries(tally.byStatus)) report.count(`answers ${status}`, n)
      report.count('closed without answer (CONNECT, body over the limit, or no request)', tally.noAnswer - tally.unexplainedCloses.length)
      report.count('5xx', tally.serverErrors.length)
      report.count('error answers without {detail, code, request_id}', tally.badShape.length)
      report.figure('seconds', (Date.now() - started) / 1000)
      const health = await status(`${server.url}/health`)
      report.count('crashes', server.child.exitCode === null ? 0 : 1)
      saveArtifact('bad-input-kinds', JSON.stringify(tally.byKind, null, 2))
      saveArtifact('bad-input-bodies', tally.bodies.join('\n'))
      assert.equal(server.child.exitCode, null, 'the server is still running')
      assert.equal(health, 200, '/health answers after the flood')
      assert.deepEqual(tally.serverErrors.slice(0, 5), [], `${tally.serverErrors.length} answers were 5xx`)
      assert.deepEqual(tally.badShape.slice(0, 5), [], `${tally.badShape.length} error answers lacked the documented shape`)
      assert.equal(tally.byStatus.timeout ?? 0, 0, 'every request was answered or closed in time')
      assert.deepEqual(tally.unexplainedCloses.slice(0, 5), [], 'connections closed without an answer')
    } finally {
      await server.stopAndKeep()
    }
    assert.doesNotMatch(server.stdout(), /"level":(50|60)/, 'no error was logged')
  })
})
