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
