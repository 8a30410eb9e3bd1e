import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import type { TextClassifier } from '../../src/models/types.js'
import { buildTestApp, createKey } from '../helper.js'

// A model that fails with an internal message: a fault that cannot be caused for real.
const failing: TextClassifier = {
  info: { name: 'sentiment', task: 'text-classification', labels: ['negative', 'positive'], source: 'test' },
  classifyBatch: () => Promise.reject(new Error('secret internal detail: /var/lib/model.onnx failed')),
  close: () => Promise.resolve(),
}

let app: FastifyInstance
before(async () => {
  app = await buildTestApp({ models: [failing] })
})
after(() => app.close())

test('an unexpected failure is a 500 that reveals nothing internal', async () => {
  const { key } = await createKey(app)
  const response = await app.inject({ method: 'POST', url: '/predict?text=hello', headers: { 'x-api-key': key } })
  assert.equal(response.statusCode, 500)
  const body = response.json()
  assert.deepEqual(body, { detail: 'Internal Server Error', code: 'internal_error', request_id: response.headers['x-request-id'] })
  assert.doesNotMatch(response.body, /secret|onnx|var\/lib/)
})
