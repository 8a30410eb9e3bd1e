import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { PROJECT_ROOT } from '../../src/config.js'
import { configurationPage } from '../docs-pages.js'

test('docs/configuration.md lists every setting as the code declares it (npm run docs:config)', () => {
  const committed = fs.readFileSync(path.join(PROJECT_ROOT, 'docs', 'configuration.md'), 'utf8')
  assert.equal(committed, configurationPage())
})

test('docs/security.md gives secret scanners the key format the code uses', async () => {
  const { KEY_REGEX, KEY_SCAN_REGEX, generateKey } = await import('../../src/keys/format.js')
  const page = fs.readFileSync(path.join(PROJECT_ROOT, 'docs', 'security.md'), 'utf8')
  assert.ok(page.includes(`\`${KEY_REGEX.source}\``), 'the anchored expression')
  assert.ok(page.includes(`\`${KEY_SCAN_REGEX.source}\``), 'the expression for texts')
  const gitleaks = /regex = '''(.+)'''/.exec(page)?.[1]
  assert.ok(gitleaks, 'a gitleaks rule')
  const key = generateKey()
  assert.equal(new RegExp(gitleaks).exec(`token: ${key}\n`)?.[1], key)
  assert.equal(new RegExp(gitleaks).exec(`token: ${key}x`), null, 'not a longer word')
})
