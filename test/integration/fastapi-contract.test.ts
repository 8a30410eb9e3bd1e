/**
 * FastAPI contract suite: the FastAPI reference service (`../shared/peers/fastapi-seed`, run by
 * uvicorn) and infergate (`infergate serve`, a process of its own) get the same requests, byte
 * for byte, and must answer them alike — status, `Allow`, and the fields a FastAPI client reads
 * (`detail`, `text`, `status`, and `sentiment` for sentences both models classify alike) —
 * except where infergate deliberately differs: there each side must give the answer the case
 * states, and the difference must have its row in docs/api.md.
 *
 * Fair keys: the reference service is started with infergate's key as its own `API_KEY`, so
 * the same `X-API-Key` header is valid (or wrong, or missing) for both.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { PROJECT_ROOT, tempDir } from '../helper.js'
import type { ContractCase, KeyUse } from './fastapi-contract-cases.js'
import { CASES } from './fastapi-contract-cases.js'
import type { FastapiSeed } from './fastapi-seed.js'
import { fastapiSeedUnavailable, startFastapiSeed } from './fastapi-seed.js'
import type { RunningServer } from './process.js'
import { runCli, startServer } from './process.js'

const unavailable = fastapiSeedUnavailable()

interface Answer {
  status: number
  headers: http.IncomingHttpHeaders
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies of two services, compared field by field
  body: any
}

function keyHeaders(use: KeyUse, key: string): Record<string, string> {
  switch (use) {
    case 'valid':
      return { 'x-api-key': key }
    case 'none':
      return {}
    case 'empty':
      return { 'x-api-key': '' }
    case 'wrong':
      return { 'x-api-key': `${key.slice(0, -6)}AAAAAA` }
    case 'malformed':
      return { 'x-api-key': 'not-a-key' }
    case 'bearer':
      return { authorization: `Bearer ${key}` }
  }
}

/** Sends one case to `base` exactly as written (no URL normalisation) and reads the answer. */
function send(base: string, c: ContractCase, key: string): Promise<Answer> {
  const { hostname, port } = new URL(base)
  const headers: Record<string, string> = { ...keyHeaders(c.key ?? 'valid', key), ...c.headers, connection: 'close' }
  if (c.body !== undefined) {
    if (c.chunked) headers['transfer-encoding'] = 'chunked'
    else headers['content-length'] = String(Buffer.byteLength(c.body))
  }
  return new Promise((resolve, reject) => {
    const request = http.request({ hostname, port, method: c.method ?? 'POST', path: c.path, headers, agent: false }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk: Buffer) => chunks.push(chunk))
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown = text
        try {
          body = text === '' ? null : JSON.parse(text)
        } catch {
          // Not JSON: compared as text.
        }
        resolve({ status: response.statusCode!, headers: response.headers, body })
      })
      response.on('error', reject)
    })
    request.on('error', reject)
    request.end(c.body)
  })
}

/** What a FastAPI client reads of a 422 detail list: where each problem is. */
const locs = (detail: unknown) => (Array.isArray(detail) ? detail.map((issue: { loc: unknown }) => issue.loc) : detail)

/** The fields a FastAPI client reads, as the reference service answers them. */
function assertAlike(c: ContractCase, fastapi: Answer, infergate: Answer): void {
  const label = `${c.name}: ${JSON.stringify(infergate.body)?.slice(0, 300)}`
  assert.equal(infergate.status, fastapi.status, label)
  assert.equal(infergate.headers.allow, fastapi.headers.allow, `${c.name}: Allow`)
  if (fastapi.body === null || typeof fastapi.body !== 'object') return
  // FastAPI 0.92 writes pydantic 1's msg/type ("field required", "value_error.missing");
  // infergate writes today's FastAPI's (pydantic 2: "Field required", "missing"). loc is the same.
  assert.deepEqual(locs(infergate.body.detail), locs(fastapi.body.detail), `${c.name}: detail`)
  for (const field of ['text', 'status']) assert.deepEqual(infergate.body[field], fastapi.body[field], `${c.name}: ${field}`)
  if (c.sentiment) assert.equal(infergate.body.sentiment, fastapi.body.sentiment, `${c.name}: sentiment`)
}

const API_DOC = readFileSync(path.join(PROJECT_ROOT, 'docs', 'api.md'), 'utf8')

describe('infergate answers as the FastAPI reference service', { skip: unavailable && `skipped: ${unavailable}` }, () => {
  let fastapi: FastapiSeed
  let infergate: RunningServer
  let key: string
  const answers = new Map<string, [Answer, Answer]>()

  before(async () => {
    const dataDir = tempDir()
    const created = await runCli(['keys', 'create', '--name', 'contract', '--limit', '1000000/1m', '--json', '--data-dir', dataDir])
    key = (JSON.parse(created.stdout) as { key: string }).key
    ;[fastapi, infergate] = await Promise.all([startFastapiSeed(key), startServer(['--data-dir', dataDir, '--no-bootstrap'])])
    for (const c of CASES) answers.set(c.name, [await send(fastapi.url, c, key), await send(infergate.url, c, key)])
  })
  after(async () => {
    await infergate?.stop()
    await fastapi?.stop()
  })

  test(`${CASES.filter((c) => !c.differs).length} requests are answered alike`, () => {
    for (const c of CASES.filter((c) => !c.differs)) {
      const [fromFastapi, fromInfergate] = answers.get(c.name)!
      assertAlike(c, fromFastapi, fromInfergate)
    }
  })

  test(`${CASES.filter((c) => c.differs).length} requests are answered differently, as docs/api.md says and why`, () => {
    for (const c of CASES.filter((c) => c.differs)) {
      const { row, fastapi: expected, infergate: ours, code } = c.differs!
      const [fromFastapi, fromInfergate] = answers.get(c.name)!
      assert.equal(fromFastapi.status, expected, `${c.name}: the reference service no longer answers ${expected}`)
      assert.equal(fromInfergate.status, ours, `${c.name}: ${JSON.stringify(fromInfergate.body)?.slice(0, 300)}`)
      if (code) assert.equal(fromInfergate.body.code, code, c.name)
      assert.ok(API_DOC.includes(`| ${row} |`), `docs/api.md has no row "${row}" in its table of differences`)
    }
  })

  test('docs/api.md states the suite as it is', (t) => {
    const alike = CASES.filter((c) => !c.differs).length
    const differ = CASES.length - alike
    t.diagnostic(`${CASES.length} requests sent to both services: ${alike} answered alike, ${differ} deliberate differences`)
    for (const claim of [`each of its ${CASES.length} requests`, `${alike} are answered alike`, `The other ${differ} differ on purpose`]) {
      assert.ok(API_DOC.replace(/\s+/g, ' ').includes(claim), `docs/api.md should say "${claim}"`)
    }
  })

  test('the five differences issue 17 fixed are answered alike', () => {
    const pick = (name: string) => answers.get(name)!
    // 1. An empty form body.
    assert.deepEqual(
      pick("an empty form body (curl -d '')").map((a) => a.status),
      [200, 200],
    )
    // 2. A bad escape decodes as in Starlette.
    assert.deepEqual(
      pick('a bad %-escape: the valid ones are decoded, the bad one kept').map((a) => a.body.text as string),
      ['100% great', '100% great'],
    )
    // 3. A wrong method.
    for (const a of pick('GET /predict')) {
      assert.equal(a.status, 405)
      assert.equal(a.headers.allow, 'POST')
      assert.equal(a.body.detail, 'Method Not Allowed')
    }
    // 4. A repeated parameter: the last value.
    assert.deepEqual(
      pick('a repeated parameter: the last value').map((a) => a.body.text as string),
      ['a wonderful film', 'a wonderful film'],
    )
    // 5. A long text in the query: infergate's 431 says to send it in a JSON body.
    const [, long] = pick('a 20,000-character text in the query')
    assert.match(long.body.detail, /JSON body.*\{"text": "\.\.\."\}/)
  })

  test('no key: 401 with WWW-Authenticate (FastAPI >= 0.122) where FastAPI 0.92 answers 403; the detail is the same', () => {
    const [fromFastapi, fromInfergate] = answers.get('no key')!
    assert.equal(fromInfergate.body.detail, fromFastapi.body.detail)
    assert.equal(fromInfergate.headers['www-authenticate'], 'APIKey')
  })
})
