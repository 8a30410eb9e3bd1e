/**
 * A remote model's server over its life: down at start (exit 2, or served as unavailable with
 * optional=true until it answers), killed for real in the middle of a batch, and away while a
 * job runs (the job waits, then finishes, each text charged once).
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { parseModelSpecs } from '../../src/models/spec.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { KSERVE_MODEL, startUpstream } from '../fixtures/upstreams.js'
import { PROJECT_ROOT, buildTestApp, createKey, tempDir } from '../helper.js'
import { runCli } from './process.js'
import { auditRecords, predictText, until } from './remote-helpers.js'

const tritonSpec = (url: string, extra = '') =>
  `triton=${url}?protocol=kserve-v2&model=${KSERVE_MODEL}&output=logits&labels=negative,positive${extra}`

async function freePort(): Promise<number> {
  const probe = await startUpstream('seed')
  const port = Number(new URL(probe.url).port)
  await probe.close()
  return port
}

function readyState(app: FastifyInstance, model: string): Promise<string | undefined> {
  return app.inject({ url: '/ready' }).then((r) => r.json<{ upstreams: Record<string, string> }>().upstreams[model])
}

test('an unreachable server stops the start with one line naming the model and the URL, exit 2', async () => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/predict`
  const result = await runCli(['serve', '--port', '0', '--data-dir', tempDir(), '--no-bootstrap', '--model', `seed=${url}?protocol=seed`])
  assert.equal(result.code, 2)
  const lines = result.stderr.trim().split('\n')
  assert.equal(lines.length, 1, result.stderr)
  assert.match(
    lines[0]!,
    new RegExp(
      `cannot load model "seed": ${url} \\(seed\\): unreachable: cannot connect \\(ECONNREFUSED\\) \\(add &optional=true to start without it\\)`,
    ),
  )
})

test('a missing credential variable stops the start naming the variable, never a value', async () => {
  const upstream = await startUpstream('seed')
  try {
    const result = await runCli(
      [
        'serve',
        '--port',
        '0',
        '--data-dir',
        tempDir(),
        '--no-bootstrap',
        '--model',
        `seed=${upstream.url}/predict?protocol=seed&auth-header=X-API-Key&auth-env=NOT_SET_ANYWHERE`,
      ],
      { NOT_SET_ANYWHERE: '' },
    )
    assert.equal(result.code, 2)
    assert.match(result.stderr, /cannot load model "seed": the environment variable NOT_SET_ANYWHERE \(auth-env\) is not set/)
    assert.equal(upstream.requests.length, 0)
  } finally {
    await upstream.close()
  }
})

test('optional=true: served as unavailable (503) while the server is down, available once a probe finds it', async () => {
  const port = await freePort()
  const app = await buildTestApp({
    config: { models: parseModelSpecs(tritonSpec(`http://127.0.0.1:${port}`, '&optional=true&breaker-cooldown=100')) },
  })
  const upstream = { current: undefined as Awaited<ReturnType<typeof startUpstream>> | undefined }
  try {
    const key = (await createKey(app)).key
    assert.notEqual(await readyState(app, 'triton'), 'closed')
    const refused = await predictText(app, key, 'triton')
    assert.deepEqual([refused.status, refused.code], [503, 'upstream_unavailable'])
    assert.ok(Number(refused.response.headers['retry-after']) >= 1)
    upstream.current = await startUpstream('kserve-v2', { port })
    await until(async () => (await readyState(app, 'triton')) === 'closed', 'the probe to find the server')
    const answered = await predictText(app, key, 'triton')
    assert.equal(answered.status, 200, answered.response.body)
  } finally {
    await app.close()
    await upstream.current?.close()
  }
})

/** The kserve-v2 test server as a child process that tells each inference call on stdout. */
async function childUpstream(fault: string): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(PROJECT_ROOT, 'test', 'fixtures', 'upstreams.ts'), 'kserve-v2', fault],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  await until(() => /listening \d+/.test(output), 'the child upstream to listen')
  return { child, url: `http://127.0.0.1:${/listening (\d+)/.exec(output)![1]}`, output: () => output }
}

test('killed mid-batch: every caller of the batch gets 502 upstream_error and an audit record; then 503 until it is back', async () => {
  const upstream = await childUpstream('hang')
  const app = await buildTestApp({
    config: { predictTimeoutMs: 30_000, models: parseModelSpecs(tritonSpec(upstream.url, '&max-wait=100&max-concurrency=1')) },
  })
  try {
    const key = (await createKey(app)).key
    const ids = ['killed-1', 'killed-2', 'killed-3']
    const answers = ids.map((id, i) =>
      app.inject({
        method: 'POST',
        url: '/v1/models/triton/predict',
        headers: { 'x-api-key': key, 'x-request-id': id },
        payload: { text: ['good', 'bad', 'fine'][i] },
      }),
    )
    await until(() => /infer 3\n/.test(upstream.output()), 'one upstream call carrying the three texts')
    upstream.child.kill('SIGKILL')
    const responses = await Promise.all(answers)
    assert.deepEqual(
      responses.map((r) => [r.statusCode, r.json<{ code: string }>().code]),
      [
        [502, 'upstream_error'],
        [502, 'upstream_error'],
        [502, 'upstream_error'],
      ],
    )
    const records = await auditRecords(app, ids)
    assert.deepEqual(records.map((r) => [r.status, r.outcome, r.cost]).sort(), [
      [502, 'upstream_error', 1],
      [502, 'upstream_error', 1],
      [502, 'upstream_error', 1],
    ])
    const after = await predictText(app, key, 'triton', 'good')
    assert.deepEqual([after.status, after.code, after.response.headers['retry-after']], [503, 'upstream_unavailable', '1'])
  } finally {
    upstream.child.kill('SIGKILL')
    await app.close()
  }
})

test('a job whose server goes away mid-chunk waits for it, finishes, and charges each text once', async () => {
  const port = await freePort()
  let upstream = await startUpstream('kserve-v2', { port })
  const app = await buildTestApp({
    config: { maxBatch: 64, models: parseModelSpecs(tritonSpec(upstream.url, '&breaker-failures=2&breaker-cooldown=100')) },
  })
  try {
    const { key } = await createKey(app, { limits: parseRules(['1000/1m']) })
    upstream.hold()
    const texts = Array.from({ length: 100 }, (_, i) => (i % 2 ? `a good film ${i}` : `a bad film ${i}`))
    const created = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'x-api-key': key },
      payload: { model: 'triton', texts },
    })
    assert.equal(created.statusCode, 202, created.body)
    const { id } = created.json<{ id: string }>()
    await until(() => upstream.inFlight() > 0, 'the first chunk to reach the server')
    await upstream.close() // the chunk in flight is lost with the server
    const status = async () =>
      (await app.inject({ url: `/v1/jobs/${id}`, headers: { 'x-api-key': key } })).json<{ status: string; done: number }>()
    await until(async () => (await readyState(app, 'triton')) !== 'closed', 'the breaker to open')
    assert.notEqual((await status()).status, 'failed', 'a job waits for its server')
    upstream = await startUpstream('kserve-v2', { port })
    await until(async () => (await status()).status === 'succeeded', 'the job to finish', 30_000)
    assert.equal((await status()).done, 100)
    const peek = await app.inject({ url: '/v1/models', headers: { 'x-api-key': key } })
    assert.match(
      peek.headers.ratelimit as string,
      /r=900\b/,
      `100 texts charged once, at submission (reading the models is free): ${String(peek.headers.ratelimit)}`,
    )
  } finally {
    await app.close()
    await upstream.close()
  }
})
