/** Writes docs/configuration.md from the settings table. */
import fs from 'node:fs'
import path from 'node:path'
import { PROJECT_ROOT } from '../src/config.js'
import { configurationPage } from '../test/docs-pages.js'

fs.writeFileSync(path.join(PROJECT_ROOT, 'docs', 'configuration.md'), configurationPage())
console.log('docs/configuration.md written')
