/**
 * The requests of the FastAPI contract suite (`fastapi-contract.test.ts`): each is sent, byte
 * for byte, to the FastAPI reference service and to infergate. Most must be answered alike;
 * where infergate deliberately differs, the case says what each answers and names the row of
 * the table in docs/api.md ("Differences from the FastAPI reference service") that says why.
 */

/** Which credential a request carries; both services accept the same key in `X-API-Key`. */
export type KeyUse = 'valid' | 'none' | 'empty' | 'wrong' | 'malformed' | 'bearer'

/** What each service answers where infergate deliberately differs. */
interface Difference {
  /** The row of docs/api.md's table of differences: its first cell. */
  row: string
  fastapi: number
  infergate: number
  /** infergate's error code, when it answers an error. */
  code?: string
}

export interface ContractCase {
  name: string
  /** Default POST. */
  method?: string
  /** Sent as it is, never re-encoded. */
  path: string
  /** Default `valid`. */
  key?: KeyUse
  headers?: Record<string, string>
  body?: string
  /** Send the body with `Transfer-Encoding: chunked` rather than a `Content-Length`. */
  chunked?: boolean
  /** Compare `sentiment` too: a sentence both models classify alike. */
  sentiment?: boolean
  differs?: Difference
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' }
const JSON_TYPE = { 'content-type': 'application/json' }
const TEXT = { 'content-type': 'text/plain' }
const word = (n: number) => 'a'.repeat(n)
const json = (body: string) => ({ headers: JSON_TYPE, body })
const differs = (row: string, fastapi: number, infergate: number, code?: string) => ({
  differs: { row, fastapi, infergate, ...(code !== undefined && { code }) },
})

const NO_KEY = 'No key, or an empty one'
const READS_BODY = 'A JSON body'
const ONE_PLACE = 'Text in the query and in the body'
const NOT_JSON = 'A body that is not JSON'
const SIZE = 'Size limits'
const NOT_UTF8 = 'Escapes that are not UTF-8'

export const CASES: ContractCase[] = [
  // The reference client's call, and how a query string is read.
  { name: 'the reference call: ?text=', path: '/predict?text=a%20wonderful%20film', sentiment: true },
  { name: '+ is a space', path: '/predict?text=a+dull,+tedious+mess', sentiment: true },
  { name: 'UTF-8 escapes', path: '/predict?text=caf%C3%A9%20au%20lait%20%E2%9C%93' },
  { name: 'a bad %-escape: the valid ones are decoded, the bad one kept', path: '/predict?text=100%%20great' },
  { name: 'more bad escapes', path: '/predict?text=50%25%zz%2' },
  { name: 'a repeated parameter: the last value', path: '/predict?text=a%20dull%20film&text=a%20wonderful%20film', sentiment: true },
  { name: 'an unknown parameter is ignored', path: '/predict?text=fine&lang=en' },
  { name: 'a text at the length limit (10,000 characters)', path: `/predict?text=${word(10_000)}` },
  // Empty bodies are no bodies, whatever their type.
  { name: "an empty form body (curl -d '')", path: '/predict?text=hi', headers: FORM, body: '' },
  { name: 'an empty JSON-typed body', path: '/predict?text=hi', ...json('') },
  { name: 'an empty text/plain body', path: '/predict?text=hi', headers: TEXT, body: '' },
  { name: 'an empty chunked form body', path: '/predict?text=hi', headers: FORM, body: '', chunked: true },
  { name: 'a JSON null body with ?text=', path: '/predict?text=hi', ...json('null') },
  // Bad input.
  { name: 'no text at all', path: '/predict' },
  { name: 'an empty text', path: '/predict?text=' },
  { name: 'a blank text', path: '/predict?text=%20%20%09' },
  { name: 'a name without =', path: '/predict?text' },
  // Wrong methods: routing comes before the key, in both.
  { name: 'GET /predict', method: 'GET', path: '/predict?text=hi' },
  { name: 'HEAD /predict', method: 'HEAD', path: '/predict' },
  { name: 'PUT /predict', method: 'PUT', path: '/predict?text=hi' },
  { name: 'DELETE /predict', method: 'DELETE', path: '/predict' },
  { name: 'OPTIONS /predict (no CORS on either)', method: 'OPTIONS', path: '/predict' },
  { name: 'GET /predict without a key', method: 'GET', path: '/predict', key: 'none' },
  { name: 'GET /predict with a wrong key', method: 'GET', path: '/predict', key: 'wrong' },
  // Keys.
  { name: 'a wrong key', path: '/predict?text=hi', key: 'wrong' },
  { name: 'a malformed key', path: '/predict?text=hi', key: 'malformed' },
  { name: 'no key', path: '/predict?text=hi', key: 'none', ...differs(NO_KEY, 403, 401, 'missing_api_key') },
  { name: 'an empty key', path: '/predict?text=hi', key: 'empty', ...differs(NO_KEY, 403, 401, 'missing_api_key') },
  { name: 'the key as Authorization: Bearer', path: '/predict?text=hi', key: 'bearer', ...differs('Authorization: Bearer', 403, 200) },
  // Other paths.
  { name: 'GET /openapi.json', method: 'GET', path: '/openapi.json', key: 'none' },
  { name: 'an unknown path', path: '/nothing?text=hi', ...differs('Unknown path', 404, 404, 'not_found') },
  // Bodies: infergate reads JSON, the reference service reads none.
  { name: 'a JSON body {"text"}', path: '/predict', ...json('{"text": "a wonderful film"}'), ...differs(READS_BODY, 422, 200) },
  {
    name: 'a JSON batch {"texts"}',
    path: '/predict',
    ...json('{"texts": ["a wonderful film", "a dull mess"]}'),
    ...differs(READS_BODY, 422, 200),
  },
  { name: 'a JSON text of the wrong type', path: '/predict', ...json('{"text": 5}'), ...differs(READS_BODY, 422, 422, 'validation_error') },
  { name: 'a JSON array body', path: '/predict', ...json('["a wonderful film"]'), ...differs(READS_BODY, 422, 422, 'validation_error') },
  {
    name: 'a text in the query and in a JSON body',
    path: '/predict?text=hi',
    ...json('{"text": "bye"}'),
    ...differs(ONE_PLACE, 200, 422, 'validation_error'),
  },
  {
    name: 'a non-empty form body with ?text=',
    path: '/predict?text=hi',
    headers: FORM,
    body: 'text=bye',
    ...differs(NOT_JSON, 200, 415, 'unsupported_media_type'),
  },
  {
    name: 'a chunked form body with ?text=',
    path: '/predict?text=hi',
    headers: FORM,
    body: 'text=bye',
    chunked: true,
    ...differs(NOT_JSON, 200, 415, 'unsupported_media_type'),
  },
  {
    name: 'a text/plain body with ?text=',
    path: '/predict?text=hi',
    headers: TEXT,
    body: 'bye',
    ...differs(NOT_JSON, 200, 415, 'unsupported_media_type'),
  },
  { name: 'invalid JSON with ?text=', path: '/predict?text=hi', ...json('{"text": '), ...differs(NOT_JSON, 200, 400, 'invalid_json') },
  { name: 'invalid JSON without ?text=', path: '/predict', ...json("{'text': 'hi'}"), ...differs(NOT_JSON, 422, 400, 'invalid_json') },
  // Limits and odd texts.
  { name: 'a 12,000-character text in the query', path: `/predict?text=${word(12_000)}`, ...differs(SIZE, 200, 422, 'validation_error') },
  { name: 'a 20,000-character text in the query', path: `/predict?text=${word(20_000)}`, ...differs(SIZE, 200, 431, 'headers_too_large') },
  { name: 'escapes that are not UTF-8', path: '/predict?text=%FF%FE', ...differs(NOT_UTF8, 200, 400, 'invalid_encoding') },
  {
    name: 'a text of invisible characters only (zero-width space)',
    path: '/predict?text=%E2%80%8B',
    ...differs('Invisible text', 200, 400, 'empty_text'),
  },
]
