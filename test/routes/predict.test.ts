import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp, createKey } from '../helper.js'

let app: FastifyInstance
let key: string

before(async () => {
  app = await buildTestApp({ config: { maxTextLength: 100 } })
  key = (await createKey(app)).key
})
after(() => app.close())

function predict(options: { query?: string; payload?: unknown; headers?: Record<string, string> } = {}) {
  const { query, payload, headers = {} } = options
  return app.inject({
    method: 'POST',
    url: `/predict${query === undefined ? '' : `?${query}`}`,
    headers: { 'x-api-key': key, ...headers },
    ...(payload === undefined ? {} : { payload: payload as string }),
  })
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- error bodies are checked field by field
function assertError(response: Awaited<ReturnType<typeof predict>>, status: number, code: string): Record<string, any> {
  assert.equal(response.statusCode, status, response.body)
  const body = response.json<Record<string, unknown>>()
  assert.equal(body.code, code)
  assert.equal(body.request_id, response.headers['x-request-id'])
  assert.ok(body.detail)
  return body
}

describe('predictions through the real model', () => {
  test('a clearly positive sentence', async () => {
    const response = await predict({ query: 'text=' + encodeURIComponent('A wonderful, moving film with brilliant performances.') })
    assert.equal(response.statusCode, 200, response.body)
    const body = response.json()
    assert.equal(body.sentiment, 'positive')
    assert.equal(body.label, 'positive')
    assert.equal(body.status, 'success')
    assert.equal(body.model, 'sentiment')
    assert.equal(body.text, 'A wonderful, moving film with brilliant performances.')
    assert.ok(body.confidence > 0.5 && body.confidence <= 1)
  })

  test('a clearly negative sentence, sent as a JSON body', async () => {
    const response = await predict({ payload: { text: "A dull, tedious mess. I didn't like it at all." } })
    assert.equal(response.statusCode, 200, response.body)
    assert.equal(response.json().sentiment, 'negative')
  })

  test('scores are probabilities and confidence is the chosen label', async () => {
    const body = (await predict({ payload: { text: 'not bad at all' } })).json()
    const total = Object.values(body.scores as Record<string, number>).reduce((a, b) => a + b, 0)
    assert.ok(Math.abs(total - 1) < 1e-5)
    assert.deepEqual(Object.keys(body.scores).sort(), ['negative', 'positive'])
    assert.equal(body.confidence, body.scores[body.label])
  })

  test('the same text gives the same answer from the query and from the body', async () => {
    const fromQuery = (await predict({ query: 'text=an%20uneven%20but%20charming%20movie' })).json()
    const fromBody = (await predict({ payload: { text: 'an uneven but charming movie' } })).json()
    assert.deepEqual(fromQuery, fromBody)
  })

  test('unicode, emoji and embedded control characters are classified and echoed as sent', async () => {
    for (const text of ['Ein großartiger Film 🎬 — bravo!', 'great\u0000movie\u0007', '最高の映画', 'x\r\ny']) {
      const response = await predict({ payload: { text } })
      assert.equal(response.statusCode, 200, response.body)
      assert.equal(response.json().text, text)
    }
  })

  test('a text of exactly the maximum length is accepted', async () => {
    const response = await predict({ payload: { text: 'good '.repeat(20) } })
    assert.equal(response.statusCode, 200, response.body)
  })

  test('extra body fields are ignored as FastAPI does', async () => {
    assert.equal((await predict({ payload: { text: 'fine', other: 1 } })).statusCode, 200)
  })

  test('a JSON content type with an empty body and ?text= works (as with the reference)', async () => {
    const response = await predict({ query: 'text=fine', headers: { 'content-type': 'application/json' } })
    assert.equal(response.statusCode, 200, response.body)
  })
})

describe('bad input gets a clear 4xx', () => {
  test('missing text: 422 in FastAPI shape', async () => {
    const body = assertError(await predict(), 422, 'validation_error')
    assert.deepEqual(body.detail, [{ loc: ['query', 'text'], msg: 'Field required', type: 'missing' }])
    assertError(await predict({ payload: {} }), 422, 'validation_error')
  })

  test('empty, whitespace-only, control-only and zero-width-only texts: 400 Empty text provided', async () => {
    for (const text of ['', '   ', '\n\t\r ', '\u0001\u0002\u0003', '\u200b\ufeff']) {
      const body = assertError(await predict({ payload: { text } }), 400, 'empty_text')
      assert.equal(body.detail, 'Empty text provided')
    }
    assertError(await predict({ query: 'text=' }), 400, 'empty_text')
    assertError(await predict({ query: 'text=%20%20' }), 400, 'empty_text')
  })

  test('too long: 422 string_too_long, in query and body', async () => {
    const long = 'a'.repeat(101)
    const fromBody = assertError(await predict({ payload: { text: long } }), 422, 'validation_error')
    assert.equal(fromBody.detail[0].type, 'string_too_long')
    assert.deepEqual(fromBody.detail[0].loc, ['body', 'text'])
    assert.deepEqual(fromBody.detail[0].ctx, { max_length: 100 })
    const fromQuery = assertError(await predict({ query: `text=${long}` }), 422, 'validation_error')
    assert.deepEqual(fromQuery.detail[0].loc, ['query', 'text'])
  })

  test('the length limit counts characters, not UTF-16 units or bytes', async () => {
    assert.equal((await predict({ payload: { text: '😀'.repeat(100) } })).statusCode, 200)
    assertError(await predict({ payload: { text: '😀'.repeat(101) } }), 422, 'validation_error')
  })

  test('wrong JSON types for text: 422 string_type', async () => {
    for (const text of [5, ['a', 'b'], { a: 1 }, true, null]) {
      const body = assertError(
        await predict({ payload: JSON.stringify({ text }), headers: { 'content-type': 'application/json' } }),
        422,
        'validation_error',
      )
      assert.deepEqual(body.detail[0].loc, ['body', 'text'])
      assert.equal(body.detail[0].type, 'string_type')
    }
  })

  test('a body that is not an object: 422 dict_type', async () => {
    for (const payload of ['"hello"', '[1, 2]', '42']) {
      const body = assertError(await predict({ payload, headers: { 'content-type': 'application/json' } }), 422, 'validation_error')
      assert.deepEqual(body.detail[0].loc, ['body'])
    }
  })

  test('text both in the query and the body: 422', async () => {
    assertError(await predict({ query: 'text=a', payload: { text: 'b' } }), 422, 'validation_error')
  })

  test('a repeated query parameter: the last value counts, as in FastAPI', async () => {
    const response = await predict({ query: 'text=a&text=b&text=fine' })
    assert.equal(response.statusCode, 200, response.body)
    assert.equal(response.json().text, 'fine')
  })

  test('a bad %-escape is kept as it is and the valid ones are decoded, as in FastAPI', async () => {
    const response = await predict({ query: 'text=100%%20great' })
    assert.equal(response.statusCode, 200, response.body)
    assert.equal(response.json().text, '100% great')
  })

  test('escapes that are not UTF-8 in the query: 400 invalid_encoding, as for a body', async () => {
    for (const query of ['text=%FF', 'text=caf%C3%28']) assertError(await predict({ query }), 400, 'invalid_encoding')
  })

  test('invalid JSON: 400 invalid_json', async () => {
    for (const payload of ['{"text": ', '{text: "a"}', "{'text': 'a'}", '{"text": "a"}}']) {
      assertError(await predict({ payload, headers: { 'content-type': 'application/json' } }), 400, 'invalid_json')
    }
  })

  test('prototype pollution keys are refused: 400', async () => {
    const payload = '{"text": "a", "__proto__": {"admin": true}}'
    assertError(await predict({ payload, headers: { 'content-type': 'application/json' } }), 400, 'invalid_json')
  })

  test('invalid UTF-8 in the body: 400 invalid_encoding', async () => {
    const payload = Buffer.concat([Buffer.from('{"text": "caf'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')])
    assertError(
      await predict({ payload: payload as unknown as string, headers: { 'content-type': 'application/json' } }),
      400,
      'invalid_encoding',
    )
  })

  test('wrong content type: 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
      assertError(await predict({ payload: 'text=hello', headers: { 'content-type': type } }), 415, 'unsupported_media_type')
    }
  })

  test('an empty body of any content type is no body: ?text= is classified, as by the reference service', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/json']) {
      const response = await predict({ query: 'text=fine', payload: '', headers: { 'content-type': type } })
      assert.equal(response.statusCode, 200, `${type}: ${response.body}`)
      assert.equal(response.json().text, 'fine')
    }
    const missing = assertError(await predict({ payload: '', headers: { 'content-type': 'text/plain' } }), 422, 'validation_error')
    assert.deepEqual(missing.detail[0].loc, ['query', 'text'])
  })

  test('a non-empty body that is not JSON is refused even with ?text=: 415', async () => {
    const response = await predict({
      query: 'text=fine',
      payload: 'text=hello',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    assertError(response, 415, 'unsupported_media_type')
  })

  test('a 10 MB body: 413', async () => {
    const payload = JSON.stringify({ text: 'a'.repeat(10 * 1024 * 1024) })
    assertError(await predict({ payload, headers: { 'content-type': 'application/json' } }), 413, 'payload_too_large')
  })
})

describe('request ids', () => {
  test('a well-formed X-Request-Id is echoed', async () => {
    const response = await predict({ query: 'text=fine', headers: { 'x-request-id': 'abc-123' } })
    assert.equal(response.headers['x-request-id'], 'abc-123')
  })

  test('one is generated when absent or unsafe, and appears in error bodies', async () => {
    const cases: Record<string, string>[] = [{}, { 'x-request-id': 'has spaces and <html>' }, { 'x-request-id': 'x'.repeat(200) }]
    for (const headers of cases) {
      const response = await predict({ headers })
      const id = response.headers['x-request-id']
      assert.match(String(id), /^[0-9a-f-]{36}$/)
      assert.equal(response.json().request_id, id)
    }
  })
})
