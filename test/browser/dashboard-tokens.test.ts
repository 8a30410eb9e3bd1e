/** The overview's LLM token table in a real browser, after a chat request through the gateway. */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Browser } from 'playwright-core'
import { createKey } from '../helper.js'
import type { OpenAiUpstream } from '../fixtures/openai-upstream.js'
import { startOpenAiUpstream } from '../fixtures/openai-upstream.js'
import { parseLlmSpecs } from '../../src/llm/spec.js'
import { CHROMIUM, DASHBOARD_BUILT, chromiumMissing, launchChromium, startApp } from './harness.js'
import type { RunningApp } from './harness.js'

const skip = chromiumMissing
  ? `${CHROMIUM} is absent: apt-get install -y chromium to run the browser tests`
  : !DASHBOARD_BUILT && 'the dashboard is not built: npm run build'

let upstream: OpenAiUpstream
let server: RunningApp
let browser: Browser

before(async () => {
  if (skip) return
  upstream = await startOpenAiUpstream()
  server = await startApp({ config: { llms: parseLlmSpecs(`llama=${upstream.baseUrl}`) } })
  browser = await launchChromium()
})
after(async () => {
  if (skip) return
  await browser.close()
  await server.app.close()
  await upstream.close()
})

test('the overview shows tokens in and out per key, model and day', { skip }, async () => {
  const admin = await createKey(server.app, { scopes: ['admin', 'predict'] })
  const client = await createKey(server.app)
  const answer = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${client.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3 }),
  })
  assert.equal(answer.status, 200)
  await server.app.services.audit!.flush()
  const page = await browser.newPage()
  await page.goto(`${server.url}/dashboard/`)
  await page.getByLabel('Admin API key').fill(admin.key)
  await page.getByRole('button', { name: 'Sign in' }).click()
  const table = page.getByTestId('token-usage')
  await table.locator('tbody tr').first().waitFor()
  const cells = await table.locator('tbody tr').first().locator('td').allTextContents()
  assert.deepEqual(cells.slice(1), [client.id, 'llama', '1', '7', '3'])
  assert.equal(cells[0], new Date().toISOString().slice(0, 10))
})
