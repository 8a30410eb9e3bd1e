/** `/dashboard/`: the built single-page app, public, with a strict Content-Security-Policy. */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import dashboardPlugin, { DASHBOARD_CSP } from '../../src/plugins/dashboard.js'
import errorHandler from '../../src/plugins/error-handler.js'
import ledger from '../../src/plugins/ledger.js'
import { PROJECT_ROOT, buildTestApp, tempDir } from '../helper.js'

const BUILT = path.join(PROJECT_ROOT, 'dist', 'dashboard')

describe('GET /dashboard/', () => {
  let app: FastifyInstance

  before(async () => {
    assert.ok(fs.existsSync(path.join(BUILT, 'index.html')), 'the dashboard is not built: run npm run build:dashboard (npm ci does)')
    app = await buildTestApp()
  })
  after(() => app.close())

  test('/dashboard redirects to /dashboard/, which serves the page without a key, with the CSP', async () => {
    const redirect = await app.inject('/dashboard')
    assert.equal(redirect.statusCode, 302)
    assert.equal(redirect.headers.location, '/dashboard/')
    const page = await app.inject('/dashboard/')
    assert.equal(page.statusCode, 200, page.body)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.equal(page.headers['content-security-policy'], DASHBOARD_CSP)
    assert.match(DASHBOARD_CSP, /script-src 'self'/)
    assert.match(DASHBOARD_CSP, /frame-ancestors 'none'/)
    assert.equal(page.headers['x-frame-options'], 'DENY')
    assert.equal(page.headers['x-content-type-options'], 'nosniff')
    assert.equal(page.headers['cache-control'], 'no-cache')
    assert.match(page.body, /<div id="app">/)
    assert.doesNotMatch(page.body, /<script>|<style>|https?:\/\//, 'no inline script or style, nothing from another origin')
  })

  test('hashed assets are served with a long cache; everything they load is from this origin', async () => {
    const page = await app.inject('/dashboard/')
    const assets = [...page.body.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), page.body)
    for (const asset of assets) {
      const response = await app.inject(asset)
      assert.equal(response.statusCode, 200, asset)
      assert.match(String(response.headers['cache-control']), /immutable/)
      assert.equal(response.headers['content-security-policy'], DASHBOARD_CSP)
      assert.doesNotMatch(
        response.body,
        /https?:\/\/(?!www\.w3\.org)[a-z0-9.-]+\.[a-z]{2,}\/[\w/.-]*\.(js|css|woff2?)/i,
        `${asset} loads from another origin`,
      )
    }
  })

  test('unknown files, dotfiles and paths out of the folder are 404 in the JSON error shape', async () => {
    for (const url of [
      '/dashboard/missing.js',
      '/dashboard/assets/missing.js',
      '/dashboard/../package.json',
      '/dashboard/%2e%2e/package.json',
      '/dashboard/.env',
    ]) {
      const response = await app.inject(url)
      assert.equal(response.statusCode, 404, `${url}: ${response.body}`)
      assert.doesNotMatch(response.body, /"name": ?"infergate"/)
    }
    assert.equal((await app.inject('/dashboard/missing.js')).json().code, 'not_found')
  })

  test('serving the dashboard writes no audit record (it is not an API call)', async () => {
    await app.inject('/dashboard/')
    await app.services.audit!.flush()
    assert.equal((await app.services.auditStore.head()).seq, 0)
  })
})

test('a server whose dashboard was not built answers 404 with how to build it', async () => {
  const app = Fastify()
  await app.register(ledger)
  await app.register(errorHandler)
  await app.register(dashboardPlugin, { root: tempDir() })
  const response = await app.inject('/dashboard/')
  assert.equal(response.statusCode, 404)
  assert.equal(response.json().code, 'not_found')
  assert.match(response.json().detail, /npm run build:dashboard/)
  await app.close()
})
