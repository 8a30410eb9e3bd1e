/** `--model NAME=URL?protocol=...`: what is accepted, and the one line given for what is not. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../../src/config.js'
import { parseModelSpec, parseModelSpecs } from '../../src/models/spec.js'
import { remoteBatching } from '../../src/models/remote/load.js'
import type { RemoteModelSpec } from '../../src/models/remote/spec.js'

const defaults = { maxBatch: 64, maxWaitMs: 0, maxQueue: 1024 }

test('a seed model: one text per call, several calls in flight, the credential by reference', () => {
  const spec = parseModelSpec('seed=http://10.0.0.5:8001/predict?protocol=seed&auth-header=X-API-Key&auth-env=SEED_API_KEY&max-concurrency=8&timeout=2000')
  assert.deepEqual(spec, {
    name: 'seed',
    url: 'http://10.0.0.5:8001/predict',
    protocol: 'seed',
    optional: false,
    auth: { header: 'X-API-Key', env: 'SEED_API_KEY' },
    maxConcurrency: 8,
    timeoutMs: 2000,
  })
  assert.deepEqual(remoteBatching(spec as RemoteModelSpec, defaults), { maxBatch: 1, maxWaitMs: 0, maxQueue: 1024, concurrency: 8 })
})

test('a kserve-v2 model: tensors, labels and activation; batches of max-batch, 4 calls in flight by default', () => {
  const spec = parseModelSpec(
    'triton=http://triton:8000?protocol=kserve-v2&model=distilbert_sst2&version=2&input=TEXT&output=logits&labels=NEGATIVE,POSITIVE&input-shape=n&activation=none&max-batch=32&optional=true',
  ) as RemoteModelSpec
  assert.equal(spec.url, 'http://triton:8000/')
  assert.deepEqual(
    [spec.upstreamModel, spec.version, spec.input, spec.output, spec.labels, spec.inputShape, spec.activation, spec.optional],
    ['distilbert_sst2', '2', 'TEXT', 'logits', ['NEGATIVE', 'POSITIVE'], 'n', 'none', true],
  )
  assert.deepEqual(remoteBatching(spec, defaults), { maxBatch: 32, maxWaitMs: 0, maxQueue: 1024, concurrency: 4 })
})

test('an hf-inference model: TEI by default, the toolkit on request', () => {
  assert.equal((parseModelSpec('tei=https://tei.internal/predict?protocol=hf-inference') as RemoteModelSpec).server, undefined)
  assert.equal((parseModelSpec('hf=https://x.endpoints.huggingface.cloud/?protocol=hf-inference&server=toolkit') as RemoteModelSpec).server, 'toolkit')
})

test('refused with a line that says what to do', () => {
  const cases: [string, RegExp][] = [
    ['a=http://h/predict', /give the server's protocol: \?protocol=seed\|kserve-v2\|hf-inference/],
    ['a=http://h/predict?protocol=grpc', /give the server's protocol/],
    ['a=http://user:pw@h/predict?protocol=seed', /holds a credential: put it in an environment variable/],
    ['a=http://h/predict?protocol=seed&api-key=xyz', /unknown option api-key/],
    ['a=http://h/predict?protocol=seed&max-batch=8', /max-batch is for kserve-v2, hf-inference only/],
    ['a=http://h/predict?protocol=seed&auth-header=X-API-Key', /auth-header and auth-env go together/],
    ['a=http://h/predict?protocol=seed&auth-header=X-API-Key&auth-env=1BAD', /auth-env must be an environment variable name/],
    ['a=http://h/predict?protocol=seed&auth-header=X%0AInjected&auth-env=K', /auth-header must be letters, digits/],
    ['a=http://h?protocol=kserve-v2&labels=a,b', /kserve-v2 needs &output=NAME/],
    ['a=http://h?protocol=kserve-v2&output=logits', /kserve-v2 needs &labels=/],
    ['a=http://h?protocol=kserve-v2&output=logits&labels=a,a', /labels must not repeat a label/],
    ['a=http://h?protocol=kserve-v2&output=logits&labels=a,b&model=../admin', /model must be letters, digits/],
    ['a=http://h?protocol=hf-inference&optional=true', /hf-inference with optional=true needs &labels=/],
    ['a=http://h?protocol=seed&timeout=0', /timeout must be from 1 to 600000/],
    ['a=http://h?protocol=seed&timeout=5&timeout=6', /option timeout is given twice/],
    ['a=http://h?protocol=seed&max-concurrency=many', /max-concurrency must be from 1 to 1024/],
  ]
  for (const [raw, message] of cases) assert.throws(() => parseModelSpec(raw), message, raw)
})

test('INFERGATE_MODEL keeps the commas of a label list and splits on the next NAME=', () => {
  const specs = parseModelSpecs('t=http://h:8000?protocol=kserve-v2&output=logits&labels=negative,neutral,positive,seed=http://s/predict?protocol=seed,local=./m')
  assert.deepEqual(
    specs.map((spec) => spec.name),
    ['t', 'seed', 'local'],
  )
  assert.deepEqual((specs[0] as RemoteModelSpec).labels, ['negative', 'neutral', 'positive'])
})

test('a bad remote spec in the environment stops the start naming the variable and the model', () => {
  assert.throws(
    () => loadConfig({}, { INFERGATE_MODEL: 'seed=http://h/predict?protocol=sed' }),
    (error: unknown) => error instanceof ConfigError && /^invalid setting INFERGATE_MODEL: model "seed": give the server's protocol/.test(error.message),
  )
})
