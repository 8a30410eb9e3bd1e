import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, test } from 'node:test'
import { KEY_PATTERN, KEY_REGEX } from '../../src/keys/format.js'
import { settings } from '../../src/config.js'
import { tempDir } from '../helper.js'
import { runCli, startServer } from './process.js'
import { PROJECT_ROOT } from '../../src/config.js'

describe('infergate keys', () => {
  const dataDir = tempDir()

  test('create prints the key once, list shows it without the key, revoke revokes', async () => {
    const created = await runCli(['keys', 'create', '--name', 'alice', '--scopes', 'predict', '--json', '--data-dir', dataDir])
    assert.equal(created.code, 0, created.stderr)
    const key = JSON.parse(created.stdout)
    assert.match(key.key, KEY_REGEX)
    assert.match(key.id, /^key_/)
    assert.equal(key.name, 'alice')
    assert.deepEqual(key.scopes, ['predict'])
    assert.equal(key.status, 'active')

    const listed = await runCli(['keys', 'list', '--data-dir', dataDir])
    assert.equal(listed.code, 0, listed.stderr)
    assert.match(listed.stdout, /ID\s+NAME\s+OWNER\s+PREFIX\s+SCOPES\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED/)
    assert.match(listed.stdout, new RegExp(`${key.id}\\s+alice\\s+default\\s+${key.prefix}\\s+predict\\s+active`))
    assert.ok(!listed.stdout.includes(key.key), 'list must never print the key')

    const revoked = await runCli(['keys', 'revoke', key.id, '--data-dir', dataDir])
    assert.equal(revoked.code, 0, revoked.stderr)
    const json = JSON.parse((await runCli(['keys', 'list', '--json', '--data-dir', dataDir])).stdout) as { id: string; status: string }[]
    assert.equal(json.find((k) => k.id === key.id)?.status, 'revoked')

    const again = await runCli(['keys', 'revoke', key.id, '--data-dir', dataDir])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already revoked/)
    const unknown = await runCli(['keys', 'revoke', 'key_doesnotexist', '--data-dir', dataDir])
    assert.equal(unknown.code, 1)
    assert.match(unknown.stderr, /no key with id key_doesnotexist/)
  })

  test('create without text output prints the key and a warning', async () => {
    const created = await runCli([
      'keys',
      'create',
      '--name',
      'bob',
      '--scopes',
      'predict,admin',
      '--expires',
      '30d',
      '--data-dir',
      dataDir,
    ])
    assert.equal(created.code, 0, created.stderr)
    assert.match(created.stdout, new RegExp(KEY_PATTERN))
    assert.match(created.stdout, /only time the key is shown/)
    assert.match(created.stdout, /scopes: admin, predict/)
  })

  test('invalid options exit with code 2 and one clear line', async () => {
    const cases: [string[], RegExp][] = [
      [['keys', 'create', '--name', 'x', '--scopes', 'root'], /unknown scope "root"/],
      [['keys', 'create', '--name', 'x', '--expires', 'yesterday'], /not a duration/],
      [['keys', 'create', '--name', 'x', '--expires', '2001-01-01'], /not in the future/],
      [['keys', 'create', '--name', ''], /must be 1 to 100 characters/],
      [['keys', 'create'], /required option '--name <name>' not specified/],
    ]
    for (const [args, message] of cases) {
      const result = await runCli([...args, '--data-dir', dataDir])
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message)
    }
  })
})

describe('usage errors', () => {
  test('a mistyped option or command: the error, a suggestion and a pointer to --help, not the whole help', async () => {
    const cases: [string[], string[]][] = [
      // --name is required too: the unknown option is reported first, with its suggestion.
      [
        ['keys', 'create', '--nam', 'x'],
        ["error: unknown option '--nam'", '(Did you mean --name?)', '(infergate keys create --help lists the options)'],
      ],
      [
        ['kyes', 'list'],
        ["error: unknown command 'kyes'", '(Did you mean keys?)', '(infergate --help lists the commands)'],
      ],
      [
        ['serve', '--prot', '1'],
        ["error: unknown option '--prot'", '(Did you mean --port?)', '(infergate serve --help lists the options)'],
      ],
      [
        ['keys', 'create'],
        ["error: required option '--name <name>' not specified", '(infergate keys create --help lists the options)'],
      ],
    ]
    const dataDir = tempDir()
    for (const [args, lines] of cases) {
      const result = await runCli([...args, '--data-dir', dataDir])
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.deepEqual(result.stderr.trim().split('\n'), lines)
    }
  })

  test('`npm start --port 18000` (npm keeps --port and passes 18000 on): one line saying to put the options after --', async () => {
    // What npm hands the script: the option as npm_config_port, its value as an argument.
    const npm = { npm_lifecycle_event: 'start', npm_config_port: 'true' }
    const result = await runCli(['serve', '18000'], npm)
    assert.equal(result.code, 2, result.stderr)
    assert.equal(
      result.stderr.trim(),
      "infergate: npm kept --port for itself and passed 18000 on as an argument: put infergate's options after --, as in npm start -- --port 18000",
    )
    const two = await runCli(['serve', '18000', '0.0.0.0'], { ...npm, npm_lifecycle_event: 'serve', npm_config_host: 'true' })
    assert.match(
      two.stderr.trim(),
      /^infergate: npm kept --host, --port for itself .*: put infergate's options after --, as in npm run serve -- --host VALUE --port VALUE$/,
    )
    // Outside npm the same arguments are commander's error, short.
    const plain = await runCli(['serve', '18000'])
    assert.deepEqual(plain.stderr.trim().split('\n'), [
      "error: too many arguments for 'serve'. Expected 0 arguments but got 1.",
      '(infergate serve --help lists the options)',
    ])
  })
})

describe('infergate serve', () => {
  test('an invalid setting stops with exit code 2 and one line naming it', async () => {
    const flag = await runCli(['serve', '--port', 'abc', '--data-dir', tempDir()])
    assert.equal(flag.code, 2)
    assert.equal(flag.stderr.trim().split('\n').length, 1, flag.stderr)
    assert.match(flag.stderr, /--port: must be an integer from 0 to 65535, got "abc"/)
    const env = await runCli(['serve', '--data-dir', tempDir()], { INFERGATE_MAX_TEXT_LENGTH: '-1' })
    assert.equal(env.code, 2)
    assert.match(env.stderr, /INFERGATE_MAX_TEXT_LENGTH/)
  })

  test('a broken --model folder stops the start with exit code 2, naming the file', async () => {
    const folder = path.join(tempDir(), 'half-exported')
    fs.mkdirSync(folder)
    fs.writeFileSync(path.join(folder, 'config.json'), JSON.stringify({ id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' } }))
    const result = await runCli(['serve', '--data-dir', tempDir(), '--model', `sst2=${folder}`])
    assert.equal(result.code, 2, result.stderr)
    assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr)
    assert.match(result.stderr, /cannot load model "sst2": .*half-exported\/tokenizer\.json: file not found/)
    const unknown = await runCli(['serve', '--data-dir', tempDir(), '--default-model', 'nope'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /--default-model nope: no such model \(loaded: sentiment\)/)
  })

  test('a port in use stops the start with exit code 2 and one line naming the address; the process is gone', async () => {
    const first = await startServer(['--data-dir', tempDir(), '--no-bootstrap'])
    try {
      const { port } = new URL(first.url)
      const second = await runCli(['serve', '--data-dir', tempDir(), '--no-bootstrap', '--port', port])
      // runCli resolves when the process has exited and closed its output: nothing kept it alive.
      assert.equal(second.code, 2, second.stderr)
      assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr)
      assert.match(second.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*--port`))
      assert.doesNotMatch(second.stderr, /\bat \w/)
    } finally {
      await first.stop('SIGKILL')
    }
  })

  test('--help documents every setting with its environment variable', async () => {
    const help = await runCli(['serve', '--help'])
    assert.equal(help.code, 0)
    for (const setting of Object.values(settings)) {
      assert.ok(help.stdout.includes(setting.flag), `--help lacks ${setting.flag}`)
    }
    assert.match(help.stdout, /INFERGATE_DATA_DIR/)
    assert.match(help.stdout, /--no-bootstrap/)
  })

  test('first start creates an admin key, prints it once on stderr and never in the log', async () => {
    const dataDir = tempDir()
    const server = await startServer(['--data-dir', dataDir])
    try {
      // The banner follows the listening line (a start that fails makes no key), on another pipe.
      for (let i = 0; i < 250 && !new RegExp(KEY_PATTERN).test(server.stderr()); i++)
        await new Promise((resolve) => setTimeout(resolve, 20))
      const key = new RegExp(KEY_PATTERN).exec(server.stderr())?.[0]
      assert.ok(key, `no key in the banner: ${server.stderr()}`)
      const response = await fetch(`${server.url}/predict?text=great`, { method: 'POST', headers: { 'x-api-key': key } })
      assert.equal(response.status, 200)
      // The last character changed (to one it is not: 1 key in 62 ends with "x").
      const altered = key.slice(0, -1) + (key.endsWith('x') ? 'y' : 'x')
      const badKey = await fetch(`${server.url}/predict?text=great`, { method: 'POST', headers: { 'x-api-key': altered } })
      assert.equal(badKey.status, 403)
      assert.equal(await server.stop(), 0)
      assert.ok(!server.stdout().includes(key), 'the key appeared in the structured log')
      const bytes = Buffer.concat(fs.readdirSync(dataDir).map((file) => fs.readFileSync(path.join(dataDir, file))))
      assert.ok(!bytes.includes(key), 'the key appeared in the SQLite files')
      assert.ok(!bytes.includes(key.slice(10)), 'the secret part of the key appeared in the SQLite files')
      // A second start finds keys and creates none.
      const again = await startServer(['--data-dir', dataDir])
      assert.equal((await fetch(`${again.url}/predict?text=great`, { method: 'POST', headers: { 'x-api-key': key } })).status, 200)
      assert.doesNotMatch(again.stderr(), /igk_/)
      assert.equal(await again.stop(), 0)
    } finally {
      await server.stop('SIGKILL')
    }
  })

  test('--no-bootstrap on an empty store: one warning line saying no key can be used and how to create one', async () => {
    const server = await startServer(['--data-dir', tempDir(), '--no-bootstrap'])
    try {
      const warning =
        /^infergate: warning: the key store is empty and --no-bootstrap is set, so no request can be authenticated: create a key with `infergate keys create --name NAME --scopes admin,predict` \(same --data-dir or --database-url\)$/m
      // Written once the server listens, just after the line startServer waits for.
      for (let i = 0; i < 50 && !warning.test(server.stderr()); i++) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.match(server.stderr(), warning)
      assert.equal(server.stderr().trim().split('\n').length, 1, server.stderr())
    } finally {
      await server.stop()
    }
  })

  test('a key revoked with the CLI stops working on the running server within 1 second', async () => {
    const dataDir = tempDir()
    const created = JSON.parse((await runCli(['keys', 'create', '--name', 'team-a', '--json', '--data-dir', dataDir])).stdout)
    const server = await startServer(['--data-dir', dataDir, '--no-bootstrap'])
    try {
      assert.doesNotMatch(server.stderr(), /key store is empty/, 'a store with a key gets no warning')
      const call = () => fetch(`${server.url}/predict?text=fine`, { method: 'POST', headers: { 'x-api-key': created.key } })
      assert.equal((await call()).status, 200)
      const revoked = await runCli(['keys', 'revoke', created.id, '--data-dir', dataDir])
      assert.equal(revoked.code, 0, revoked.stderr)
      const since = performance.now()
      let status = 200
      while (status === 200 && performance.now() - since < 3000) {
        status = (await call()).status
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20))
      }
      const elapsed = performance.now() - since
      assert.equal(status, 403)
      assert.ok(elapsed < 1000, `revocation took ${Math.round(elapsed)} ms`)
    } finally {
      await server.stop()
    }
  })
})

test(
  'the built CLI is executable, so `npx infergate` runs it whatever npx has cached',
  { skip: !fs.existsSync(path.join(PROJECT_ROOT, 'dist', 'cli', 'index.js')) && 'not built (npm run build)' },
  () => {
    const mode = fs.statSync(path.join(PROJECT_ROOT, 'dist', 'cli', 'index.js')).mode
    assert.equal(mode & 0o111, 0o111, `mode ${mode.toString(8)}`)
  },
)
