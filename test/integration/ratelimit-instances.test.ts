/**
 * Two server processes sharing one Redis admit exactly the limit between them.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { REDIS_URL } from '../ratelimit/backends.js'
import { tempDir } from '../helper.js'
import { runCli, startServer } from './process.js'

test('two instances on one Redis: 200 concurrent requests against 50 per 10 s admit exactly 50', async () => {
  const dataDir = tempDir()
  const created = await runCli(['keys', 'create', '--name', 'shared', '--limit', '50/10s', '--json', '--data-dir', dataDir])
  assert.equal(created.code, 0, created.stderr)
  const { key } = JSON.parse(created.stdout) as { key: string }
  const args = ['--data-dir', dataDir, '--no-bootstrap', '--redis-url', REDIS_URL]
  const servers = await Promise.all([startServer(args), startServer(args)])
  try {
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(`${servers[i % 2]!.url}/predict?text=fine`, { method: 'POST', headers: { 'x-api-key': key } }).then((r) => r.status),
      ),
    )
    assert.equal(answers.filter((status) => status === 200).length, 50)
    assert.equal(answers.filter((status) => status === 429).length, 150)
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
})
