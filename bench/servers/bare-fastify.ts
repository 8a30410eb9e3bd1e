/**
 * Bench target (b): a bare Fastify route running the same model, through the same batcher, as
 * infergate's /predict, with no authentication, rate limiting, audit or logging. The difference
 * between (b) and infergate is the cost of the security layers.
 */
import Fastify from 'fastify'
import { loadConfig } from '../../src/config.js'
import { loadBuiltinModel } from '../../src/models/builtin/load.js'
import { ModelRegistry } from '../../src/models/registry.js'

const config = loadConfig()
const registry = new ModelRegistry()
registry.add(await loadBuiltinModel(config.modelDir), {
  batching: { maxBatch: config.maxBatch, maxWaitMs: config.maxWaitMs, maxQueue: config.maxQueue },
})
const model = registry.default

const app = Fastify()
app.post<{ Querystring: { text?: string } }>('/predict', async (request) => {
  const text = request.query.text ?? ''
  const [result] = await model.classify([text])
  return { text, sentiment: result!.label, confidence: result!.confidence, status: 'success' }
})
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
console.log(`listening on ${new URL(address).port}`)
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)))
