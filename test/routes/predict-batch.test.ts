import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, createKey } from '../helper.js'

let app: FastifyInstance
let key: string
before(async () => {
  app = await buildTestApp({ config: { maxTexts: 8 } })
  key = (await createKey(app)).key
})
after(() => app.close())

function post(url: string, payload: unknown, apiKey = key) {
  return app.inject({ method: 'POST', url, headers: { 'x-api-key': apiKey }, payload: payload as Record<string, unknown> })
}

describe('batch requests', () => {
  test('{"texts": [...]} is answered in input order, one result per text', async () => {
    const texts = ['A wonderful, moving film.', 'A dull, tedious mess.', 'Brilliant!', 'not good']
    const response = await post('/predict', { texts })
    assert.equal(response.statusCode, 200, response.body)
    const body = response.json()
    assert.equal(body.status, 'success')
    assert.equal(body.model, 'sentiment')
    assert.deepEqual(
      (body.results as { text: string }[]).map((r) => r.text),
      texts,
    )
    assert.equal(body.results[0].sentiment, 'positive')
    assert.equal(body.results[1].sentiment, 'negative')
    for (const result of body.results) assert.equal(result.confidence, result.scores[result.label])
  })

  test('the same text alone and inside a batch gets the same answer', async () => {
    const alone = (await post('/predict', { text: 'an uneven but charming movie' })).json()
    const batch = (await post('/predict', { texts: ['something else entirely', 'an uneven but charming movie'] })).json()
    assert.deepEqual(batch.results[1].scores, alone.scores)
  })

  test('a batch costs its number of texts against the key limits', async () => {
    const { key: fresh } = await createKey(app)
    const response = await post('/predict', { texts: ['a', 'b', 'c', 'd', 'e'] }, fresh)
    assert.match(String(response.headers['ratelimit']), /^"minute";r=55;/)
  })

  test('a batch larger than what is left gets 429; larger than the whole limit, 422', async () => {
    const { key: small, id } = await createKey(app)
    await app.services.keys.update(id, { limits: parseRules(['6/1m']) })
    assert.equal((await post('/predict', { texts: ['a', 'b', 'c', 'd'] }, small)).statusCode, 200)
    const over = await post('/predict', { texts: ['a', 'b', 'c'] }, small)
    assert.equal(over.statusCode, 429)
    assert.match(String(over.headers['ratelimit']), /r=2;/)
    const impossible = await post('/predict', { texts: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] }, small)
    assert.equal(impossible.statusCode, 422)
    assert.match(impossible.json().detail[0].msg, /costs 7 units but the 'minute' limit allows 6/)
  })

  test('batch validation: empty list, non-strings, too many, blank items, text and texts together', async () => {
    const cases: [unknown, (string | number)[], string][] = [
      [{ texts: [] }, ['body', 'texts'], 'too_short'],
      [{ texts: ['ok', 5] }, ['body', 'texts', 1], 'string_type'],
      [{ texts: ['ok', null] }, ['body', 'texts', 1], 'string_type'],
      [{ texts: 'not a list' }, ['body', 'texts'], 'list_type'],
      [{ texts: Array.from({ length: 9 }, () => 'x') }, ['body', 'texts'], 'too_long'],
      [{ texts: ['ok', '   '] }, ['body', 'texts', 1], 'value_error'],
      [{ texts: ['ok'], text: 'also' }, ['body', 'texts'], 'value_error'],
      [{ texts: ['x'.repeat(10_001)] }, ['body', 'texts', 0], 'string_too_long'],
    ]
    for (const [payload, loc, type] of cases) {
      const response = await post('/predict', payload)
      assert.equal(response.statusCode, 422, `${JSON.stringify(payload).slice(0, 60)}: ${response.body}`)
      const body = response.json()
      assert.equal(body.code, 'validation_error')
      assert.deepEqual(body.detail[0].loc, loc)
      assert.equal(body.detail[0].type, type)
    }
  })
})

describe('/v1/models/{name}/predict', () => {
  test('predicts with the named model, single or batch', async () => {
    const single = await post('/v1/models/sentiment/predict', { text: 'a wonderful film' })
    assert.equal(single.statusCode, 200, single.body)
    assert.equal(single.json().model, 'sentiment')
    const batch = await post('/v1/models/sentiment/predict?', { texts: ['good', 'bad'] })
    assert.equal(batch.json().results.length, 2)
    const viaQuery = await app.inject({ method: 'POST', url: '/v1/models/sentiment/predict?text=fine', headers: { 'x-api-key': key } })
    assert.equal(viaQuery.statusCode, 200)
  })

  test('an unknown model is a 404 model_not_found', async () => {
    const response = await post('/v1/models/nope/predict', { text: 'hello' })
    assert.equal(response.statusCode, 404)
    assert.equal(response.json().code, 'model_not_found')
  })
})
