import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, envName, loadConfig, parseBytes, settings } from '../../src/config.js'

test('defaults apply when nothing is set', () => {
  const config = loadConfig({}, {})
  assert.equal(config.host, '127.0.0.1')
  assert.equal(config.port, 8000)
  assert.equal(config.dataDir, './.infergate')
  assert.equal(config.apiKeyHeader, 'X-API-Key')
  assert.equal(config.maxBodyBytes, 1024 * 1024)
  assert.equal(config.maxTextLength, 10_000)
  assert.equal(config.bootstrap, true)
})

test('flags override the environment, which overrides defaults', () => {
  const env = { INFERGATE_PORT: '9000', INFERGATE_HOST: '0.0.0.0' }
  const config = loadConfig({ port: '9100' }, env)
  assert.equal(config.port, 9100)
  assert.equal(config.host, '0.0.0.0')
})

test('the configuration is frozen', () => {
  const config = loadConfig({}, {})
  assert.ok(Object.isFrozen(config))
  assert.throws(() => {
    ;(config as { port: number }).port = 1
  })
})

test('environment variable names follow the flags', () => {
  assert.equal(envName('dataDir'), 'INFERGATE_DATA_DIR')
  assert.equal(envName('maxBodyBytes'), 'INFERGATE_MAX_BODY_SIZE')
  assert.equal(envName('apiKeyHeader'), 'INFERGATE_API_KEY_HEADER')
})

test('invalid values name the setting and where it came from', () => {
  const cases: [Parameters<typeof loadConfig>[0], NodeJS.ProcessEnv, RegExp][] = [
    [{ port: 'abc' }, {}, /--port: must be an integer from 0 to 65535, got "abc"/],
    [{}, { INFERGATE_PORT: '70000' }, /INFERGATE_PORT: must be an integer/],
    [{ apiKeyHeader: 'X API Key' }, {}, /--api-key-header: must be a valid HTTP header name/],
    [{ maxBodyBytes: 'lots' }, {}, /--max-body-size: must be a size/],
    [{ maxTextLength: '0' }, {}, /--max-text-length/],
    [{}, { INFERGATE_BOOTSTRAP: 'maybe' }, /INFERGATE_BOOTSTRAP: must be true or false/],
    [{ logLevel: 'loud' }, {}, /--log-level: must be one of/],
    [{ host: '  ' }, {}, /--host: must not be empty/],
  ]
  for (const [flags, env, message] of cases) {
    assert.throws(
      () => loadConfig(flags, env),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
    )
  }
})

test('settings a command does not read keep their defaults', () => {
  const config = loadConfig({}, { INFERGATE_PORT: 'abc', INFERGATE_DATA_DIR: '/tmp/x' }, ['dataDir'])
  assert.equal(config.dataDir, '/tmp/x')
  assert.equal(config.port, 8000)
})

test('byte sizes accept units', () => {
  assert.equal(parseBytes('2048'), 2048)
  assert.equal(parseBytes('512kb'), 512 * 1024)
  assert.equal(parseBytes('4MB'), 4 * 1024 * 1024)
  assert.throws(() => parseBytes('10'))
  assert.throws(() => parseBytes('1gb'))
})

test('a switch that defaults to true is shown as --no-<flag>, and its help says what turning it off does', () => {
  const switches = Object.values(settings).filter((setting) => setting.default === true && !('placeholder' in setting))
  assert.deepEqual(
    switches.map((setting) => setting.flag),
    ['bootstrap', 'audit'],
  )
  for (const setting of switches) assert.match(setting.description, /^do not /, setting.flag)
})
