import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isUndecodable, parseQueryString } from '../../src/http/query-string.js'

// What Python's urllib.parse.parse_qsl(query, keep_blank_values=True) gives (Starlette, hence
// the FastAPI reference service), checked against Python 3.11.
const STARLETTE: [string, Record<string, string | string[]>][] = [
  ['text=a%20wonderful%20film', { text: 'a wonderful film' }],
  ['text=100%%20great', { text: '100% great' }],
  ['text=100%%20gr%zzeat%41', { text: '100% gr%zzeatA' }],
  ['text=a+b%2Bc', { text: 'a b+c' }],
  ['text=caf%C3%A9', { text: 'café' }],
  ['a=%&b=%2&c=%%%41%', { a: '%', b: '%2', c: '%%A%' }],
  ['text=a&text=b', { text: ['a', 'b'] }],
  ['text', { text: '' }],
  ['=x&&y=1', { '': 'x', y: '1' }],
  ['__proto__=x', { ['__proto__']: 'x' }],
  ['', {}],
]

test('query strings are decoded as Starlette decodes them: a bad escape is kept, the valid ones decoded', () => {
  for (const [query, expected] of STARLETTE) {
    const parsed = parseQueryString(query)
    assert.deepEqual({ ...parsed }, expected, query)
    assert.equal(isUndecodable(parsed), false, query)
    assert.equal(Object.getPrototypeOf(parsed), null)
  }
})

test('escapes that are not UTF-8 mark the query (the route answers 400) and keep the value undecoded', () => {
  for (const query of ['text=%FF', 'text=caf%C3%28', 'text=%C3', '%FF=a']) {
    assert.equal(isUndecodable(parseQueryString(query)), true, query)
  }
  assert.deepEqual({ ...parseQueryString('text=%FF&b=%41') }, { text: '%FF', b: 'A' })
})
