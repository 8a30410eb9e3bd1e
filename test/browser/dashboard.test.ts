/**
 * The dashboard in a real browser (Debian's headless Chromium through playwright-core) against a
 * real server: sign-in and its refusals, keys (create, copy, list, rotate, revoke), the
 * playground, the audit page and the overview chart, rendering as text, and the CSP.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { CHROMIUM, DASHBOARD_BUILT, chromiumMissing, launchChromium, startApp } from './harness.js'
import type { RunningApp } from './harness.js'

const skip = chromiumMissing ? `${CHROMIUM} is absent: apt-get install -y chromium to run the browser tests` : false
const XSS_NAME = '<img src=x onerror=alert(1)>'

describe('dashboard in Chromium', { skip }, () => {
  let server: RunningApp
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let admin: { key: string; id: string }
  const dialogs: string[] = []
  const cspViolations: string[] = []
  const pageErrors: string[] = []
  // Filled in as the story goes on.
  let created: { id: string; key: string }
  let rotated: { key: string }
  let serverClosed = false

  const url = (hash = '') => `${server.url}/dashboard/${hash}`
  const nav = (name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true }).click()
  const flushAudit = () => server.app.services.audit!.flush()
  /** Polls the page until `read` returns something other than undefined (no fixed waits). */
  async function until<T>(read: () => Promise<T | undefined>, what: string, tries = 300): Promise<T> {
    for (let i = 0; i < tries; i++) {
      const value = await read()
      if (value !== undefined) return value
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(`gave up waiting for ${what}`)
  }
  const overviewTotal = async () => Number(await page.getByTestId('total-requests').textContent())
  const chartTotal = async (label: string) =>
    Number(await page.getByTestId('overview-chart').locator(`td[data-outcome="${label}"]`).textContent())

  async function signIn(key: string): Promise<void> {
    await page.goto(url())
    await page.getByLabel('Admin API key').fill(key)
    await page.getByRole('button', { name: 'Sign in' }).click()
  }

  async function predictInPlayground(key: string, text: string): Promise<{ status: string; error: string | null; headers: string }> {
    await nav('Playground')
    await page.getByLabel('another key').check()
    await page.getByLabel('Other API key').fill(key)
    await page.getByLabel('Text').fill(text)
    await page.getByLabel('Model').fill('sentiment')
    const result = page.getByTestId('pg-result')
    // Each answer has its own X-Request-Id, so a new answer always changes the panel's text.
    const previous = (await result.count()) > 0 ? await result.textContent() : null
    await page.getByRole('button', { name: 'Predict' }).click()
    await until(
      async () => ((await result.count()) > 0 && (await result.textContent()) !== previous ? true : undefined),
      'the playground answer',
    )
    const error = page.getByTestId('pg-error')
    return {
      status: (await page.getByTestId('pg-status').textContent()) ?? '',
      error: (await error.count()) > 0 ? await error.textContent() : null,
      headers: (await page.getByTestId('pg-result').textContent()) ?? '',
    }
  }

  before(async () => {
    assert.ok(DASHBOARD_BUILT, 'the dashboard is not built: run npm run build:dashboard (npm ci does)')
    server = await startApp()
    const made = await server.app.services.keys.create({ name: 'operator', owner: 'ops', scopes: ['admin', 'predict'] }, 'cli')
    admin = { key: made.key, id: made.record.id }
    browser = await launchChromium()
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    page = await context.newPage()
    page.setDefaultTimeout(15_000)
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message())
      void dialog.dismiss()
    })
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspViolations.push(message.text())
    })
    page.on('pageerror', (error) => pageErrors.push(error.message))
  })

  after(async () => {
    await browser?.close()
    if (!serverClosed) await server?.app.close()
  })

  test('a key without the admin scope is refused with a clear message', async () => {
    const predictOnly = await server.app.services.keys.create({ name: 'client', owner: 'team-a', scopes: ['predict'] }, 'cli')
    await signIn(predictOnly.key)
    const alert = page.getByRole('alert')
    await alert.waitFor()
    assert.match((await alert.textContent()) ?? '', /no admin scope/)
    await signIn('igk_not_a_real_key')
    await until(
      async () => (/not accepted/.test((await page.getByRole('alert').textContent()) ?? '') ? true : undefined),
      'the invalid-key message',
    )
    assert.equal(await page.getByRole('navigation').count(), 0, 'still on the sign-in page')
  })

  test('sign in with an admin key, by keyboard: the key is in sessionStorage only, never in the URL or localStorage', async () => {
    await page.goto(url())
    await page.getByLabel('Admin API key').waitFor()
    await page.keyboard.type(admin.key) // the field has the focus
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Overview', exact: true, level: 1 }).waitFor()
    const focused = () => page.evaluate<string>('document.activeElement ? document.activeElement.textContent : ""')
    await page.keyboard.press('Tab')
    assert.equal(await focused(), 'Skip to content')
    await page.keyboard.press('Tab')
    assert.equal(await focused(), 'Overview')
    await page.keyboard.press('Tab')
    assert.equal(await focused(), 'Keys')
    await page.keyboard.press('Enter')
    await page.getByRole('heading', { name: 'Keys', exact: true, level: 1 }).waitFor()
    // Page code as strings: the test's own TypeScript has no DOM types.
    const storage = await page.evaluate<{ local: string; session: string; href: string }>(
      '({ local: JSON.stringify(window.localStorage), session: JSON.stringify(window.sessionStorage), href: window.location.href })',
    )
    assert.ok(!storage.local.includes(admin.key))
    assert.ok(!storage.href.includes(admin.key))
    assert.ok(storage.session.includes(admin.key))
  })

  test('create a key: the secret is shown once and the copy button puts it on the clipboard', async () => {
    await nav('Keys')
    await page.getByText('Create a key').click()
    await page.getByLabel('Name', { exact: true }).fill('dash-test')
    await page.getByLabel('Owner', { exact: true }).fill('team-a')
    await page.getByLabel(/^Limits/).fill('100/1d')
    await page.getByRole('button', { name: 'Create key' }).click()
    const panel = page.getByTestId('secret-panel')
    await panel.waitFor()
    assert.match((await panel.textContent()) ?? '', /shown only once/)
    const secret = await page.getByLabel('API key', { exact: true }).inputValue()
    assert.match(secret, /^igk_/)
    await panel.getByRole('button', { name: 'Copy' }).click()
    await panel.getByText('Copied to the clipboard.').waitFor()
    assert.equal(await page.evaluate<string>('navigator.clipboard.readText()'), secret)
    const row = page.getByTestId('keys-table').locator('tr', { hasText: 'dash-test' })
    await row.waitFor()
    created = { id: (await row.getAttribute('data-key-id'))!, key: secret }
    assert.match(created.id, /^key_/)
    assert.match((await row.textContent()) ?? '', /team-a.*active/)
    await panel.getByRole('button', { name: 'I have saved it' }).click()
    assert.equal(await page.getByTestId('secret-panel').count(), 0, 'the secret is gone once dismissed')
  })

  test('use the new key from the playground: prediction and rate-limit headers', async () => {
    const answer = await predictInPlayground(created.key, 'a wonderful, moving film')
    assert.equal(answer.status, '200', answer.error ?? '')
    assert.match((await page.getByTestId('pg-label').textContent()) ?? '', /positive|negative/)
    assert.match(answer.headers, /ratelimit-policy/i)
    assert.match(answer.headers, /x-request-id/i)
  })

  test('the request is in the audit page, and the overview chart counted it', async () => {
    await flushAudit()
    await nav('Audit')
    await page.getByLabel('Key id').fill(created.id)
    await page.getByRole('button', { name: 'Apply' }).click()
    const row = page.getByTestId('audit-table').locator('tr', { hasText: '/v1/models/:name/predict' })
    await row.first().waitFor()
    assert.match((await row.first().textContent()) ?? '', /POST.*200.*ok/)
    await page.getByRole('button', { name: 'Verify chain' }).click()
    await until(
      async () => (/chain intact/.test((await page.getByTestId('verify-result').textContent()) ?? '') ? true : undefined),
      'the verify result',
    )

    await nav('Overview')
    await page.getByTestId('total-requests').waitFor()
    const before = { total: await overviewTotal(), ok: await chartTotal('ok') }
    assert.ok(before.ok >= 1, 'the playground call is in the chart')
    await predictInPlayground(created.key, 'another fine film')
    await flushAudit()
    await nav('Overview')
    await page.getByTestId('total-requests').waitFor()
    await page.getByRole('button', { name: 'Refresh' }).click()
    const after = await until(async () => {
      const ok = await chartTotal('ok')
      return ok > before.ok ? { total: await overviewTotal(), ok } : undefined
    }, 'the chart to move')
    assert.ok(after.total > before.total)
    assert.match((await page.getByTestId('p50').textContent()) ?? '', /ms$/)
  })

  test('rotate: a new secret, the old key marked rotated', async () => {
    await page.goto(url(`#/keys/${created.id}`))
    await page.getByTestId('key-name').waitFor()
    // Its limit and what remains after the playground's calls (read without charging).
    const keyLimit = page.getByTestId('limit-state').locator('tr', { hasText: 'key' })
    await keyLimit.waitFor()
    const cells = await keyLimit.locator('td').allTextContents()
    assert.deepEqual(cells.slice(0, 3), ['key', '1d', '100'])
    assert.ok(Number(cells[3]) < 100 && Number(cells[3]) >= 97, `remaining ${cells[3]}`)
    assert.equal(cells[5], 'requests', 'what the limit counts')
    assert.ok(
      (await page.getByTestId('key-audit').locator('tr', { hasText: '/v1/models/:name/predict' }).count()) >= 2,
      'its recent audit records',
    )
    await page.getByLabel('Grace for the old key').fill('1h')
    await page.getByRole('button', { name: 'Rotate' }).click()
    const panel = page.getByTestId('secret-panel')
    await panel.waitFor()
    rotated = { key: await panel.getByLabel('API key', { exact: true }).inputValue() }
    assert.match(rotated.key, /^igk_/)
    assert.notEqual(rotated.key, created.key)
    await until(
      async () => (/rotated/.test((await page.locator('.fields').first().textContent()) ?? '') ? true : undefined),
      'the rotated status',
    )
    assert.equal((await predictInPlayground(rotated.key, 'fine')).status, '200')
  })

  test('policy: allowed addresses, a concurrency cap and credits are saved and shown; bad values are refused with the reason', async () => {
    const made = await server.app.services.keys.create({ name: 'policy-edit', owner: 'ops', scopes: ['predict'] }, 'cli')
    await page.goto(url(`#/keys/${made.record.id}`))
    const form = page.getByTestId('policy-form')
    await form.waitFor()
    await page.getByLabel(/^Allowed addresses/).fill('10.1.2.3/8, 127.0.0.1')
    await page.getByLabel(/^Concurrency cap/).fill('3')
    await page.getByRole('button', { name: 'Save policy' }).click()
    await until(async () => (/Policy saved/.test((await page.locator('main').textContent()) ?? '') ? true : undefined), 'the notice')
    const stored = await server.app.services.keys.get(made.record.id)
    assert.deepEqual([stored?.allowedIps, stored?.concurrency], [['10.0.0.0/8', '127.0.0.1/32'], 3])
    await until(
      async () => (/10\.0\.0\.0\/8, 127\.0\.0\.1\/32/.test((await page.locator('.fields').first().textContent()) ?? '') ? true : undefined),
      'the normalised ranges in the fields',
    )
    assert.match((await page.locator('.fields').first().textContent()) ?? '', /3 in flight/)
    await page.getByLabel(/^Allowed addresses/).fill('example.com')
    await page.getByRole('button', { name: 'Save policy' }).click()
    const alert = page.getByRole('alert')
    await alert.waitFor()
    assert.match((await alert.textContent()) ?? '', /allowed_ips/)
    assert.deepEqual((await server.app.services.keys.get(made.record.id))?.allowedIps, ['10.0.0.0/8', '127.0.0.1/32'])
    // Credits: a balance with a refill; a bad refill gets the server's reason and changes nothing.
    await page.getByLabel(/^Allowed addresses/).fill('10.0.0.0/8, 127.0.0.1/32')
    await page.getByLabel(/^Credit balance/).fill('50')
    await page.getByLabel(/^Refill/).fill('50/1d')
    await page.getByRole('button', { name: 'Save policy' }).click()
    await until(
      async () => ((await server.app.services.keys.get(made.record.id))?.credits?.remaining === 50 ? true : undefined),
      'credits set',
    )
    assert.deepEqual((await server.app.services.keys.get(made.record.id))?.credits?.refill, { amount: 50, everyMs: 86_400_000 })
    await until(
      async () => (/50 left, set back to 50 every 1d/.test((await page.locator('.fields').first().textContent()) ?? '') ? true : undefined),
      'the balance in the fields',
    )
    await page.getByLabel(/^Refill/).fill('50/forever')
    await page.getByRole('button', { name: 'Save policy' }).click()
    await until(async () => (/credits/i.test((await page.getByRole('alert').textContent()) ?? '') ? true : undefined), 'the refill refused')
    // Saving again with nothing changed sends nothing.
    await page.reload()
    await form.waitFor()
    await page.getByRole('button', { name: 'Save policy' }).click()
    await until(
      async () => (/Nothing changed/.test((await page.locator('main').textContent()) ?? '') ? true : undefined),
      'nothing changed',
    )
    // Cleared: any address, no cap, unlimited.
    await page.getByLabel(/^Credit balance/).fill('')
    await page.getByLabel(/^Refill/).fill('')
    await page.getByLabel(/^Allowed addresses/).fill('')
    await page.getByLabel(/^Concurrency cap/).fill('')
    await page.getByRole('button', { name: 'Save policy' }).click()
    await until(
      async () => ((await server.app.services.keys.get(made.record.id))?.concurrency === null ? true : undefined),
      'the cap cleared',
    )
    assert.equal((await server.app.services.keys.get(made.record.id))?.allowedIps, null)
    assert.equal((await server.app.services.keys.get(made.record.id))?.credits, null)
  })

  test('revoke with confirmation, then the playground call is refused', async () => {
    await page.goto(url(`#/keys/${created.id}`))
    const successor = page.locator('.fields a', { hasText: /^key_/ })
    await successor.waitFor()
    await successor.click()
    await page.getByTestId('key-name').waitFor()
    assert.doesNotMatch(page.url(), new RegExp(created.id), 'on the new key now')
    await page.getByRole('button', { name: 'Revoke', exact: true }).click()
    const dialog = page.getByRole('dialog')
    await dialog.waitFor()
    await dialog.getByRole('button', { name: 'Revoke key' }).click()
    await page.getByText('Key revoked.').waitFor()
    const answer = await predictInPlayground(rotated.key, 'fine')
    assert.equal(answer.status, '403')
    assert.match(answer.error ?? '', /invalid_api_key/)
  })

  test('a key named like HTML is shown as text, and no script runs', async () => {
    await server.app.services.keys.create({ name: XSS_NAME, owner: 'team-a', scopes: ['predict'] }, 'cli')
    await nav('Keys')
    const cell = page.getByTestId('keys-table').getByText(XSS_NAME, { exact: true })
    await cell.waitFor()
    assert.equal(await page.locator('main img').count(), 0)
    assert.deepEqual(dialogs, [])
  })

  test('the key list filters by search, status and owner', async () => {
    await nav('Keys')
    const table = page.getByTestId('keys-table')
    const rows = table.locator('tbody tr')
    const apply = async (label: string | RegExp, value: string, select = false) => {
      const field = page.getByLabel(label, { exact: true })
      if (select) await field.selectOption(value)
      else await field.fill(value)
      await page.getByRole('button', { name: 'Apply' }).click()
    }
    await apply('Search', 'dash-test')
    // The key and its successor from the rotation, which keeps the name.
    await until(async () => ((await rows.count()) === 2 ? true : undefined), 'the two keys named dash-test')
    assert.ok((await rows.allTextContents()).every((text) => text.includes('dash-test')))
    await apply('Search', '')
    await apply('Status filter', 'revoked', true)
    await until(async () => ((await rows.allTextContents()).every((text) => /revoked/.test(text)) ? true : undefined), 'only revoked keys')
    assert.ok((await rows.count()) >= 1)
    await apply('Status filter', '', true)
    await apply('Owner filter', 'ops')
    const owners = rows.locator('td:nth-child(2)')
    await until(async () => {
      const names = await owners.allTextContents()
      return names.length >= 1 && names.every((owner) => owner === 'ops') ? true : undefined
    }, 'only the ops keys')
    await apply('Owner filter', '')
  })

  test('jobs: every key’s jobs with their progress', async () => {
    const response = await server.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'x-api-key': admin.key },
      payload: { texts: ['first text', 'second text', 'third text'] },
    })
    assert.equal(response.statusCode, 202, response.body)
    const id = response.json<{ id: string }>().id
    await nav('Jobs')
    const row = page.getByTestId('jobs-table').locator('tr', { hasText: id })
    await row.waitFor()
    await page.getByRole('button', { name: 'Refresh' }).click()
    await until(async () => (/succeeded/.test((await row.textContent()) ?? '') ? true : undefined), 'the job to finish')
    assert.match((await row.textContent()) ?? '', /3\/3/)
    assert.equal(await row.locator('progress').getAttribute('value'), '3')
    assert.equal(await row.getByRole('button', { name: /^Cancel/ }).count(), 0, 'a finished job cannot be cancelled')

    // With the worker stopped, the next job stays queued until it is cancelled.
    await server.app.services.jobWorker.stop()
    const queued = await server.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      headers: { 'x-api-key': admin.key },
      payload: { texts: ['waits'] },
    })
    const queuedId = queued.json<{ id: string }>().id
    await page.getByRole('button', { name: 'Refresh' }).click()
    const waiting = page.getByTestId('jobs-table').locator('tr', { hasText: queuedId })
    await waiting.waitFor()
    assert.match((await waiting.textContent()) ?? '', /queued.*0\/1/)
    await waiting.getByRole('button', { name: `Cancel ${queuedId}` }).click()
    await until(async () => (/cancelled/.test((await waiting.textContent()) ?? '') ? true : undefined), 'the job to be cancelled')
  })

  test('works at 390 px: every page fits the width (wide tables scroll in their own box)', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    const pages: [string, string][] = [
      ['Overview', 'overview-chart'],
      ['Keys', 'keys-table'],
      ['Audit', 'audit-table'],
      ['Jobs', 'jobs-table'],
    ]
    for (const [name, testId] of pages) {
      await nav(name)
      await page.getByTestId(testId).waitFor()
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth')
      assert.ok(overflow <= 1, `${name} scrolls sideways by ${overflow}px`)
    }
    await page.setViewportSize({ width: 1280, height: 900 })
  })

  test('a key revoked mid-session sends the operator back to sign-in with a message', async () => {
    const second = await server.app.services.keys.create({ name: 'second admin', owner: 'ops', scopes: ['admin'] }, 'cli')
    await page.getByRole('button', { name: 'Sign out' }).click()
    await signIn(second.key)
    await page.getByTestId('total-requests').waitFor()
    // The overview's token table loads after the totals: its request, answered after the
    // revocation, would sign the operator out before the click below (the button then gone).
    await page.getByTestId('token-usage').getByText('No LLM requests in this range.').waitFor()
    await server.app.services.keys.revoke(second.record.id, 'cli')
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.getByText('Your key is no longer accepted').waitFor()
    await page.getByLabel('Admin API key').waitFor()
    assert.equal(await page.evaluate<number>('window.sessionStorage.length'), 0, 'the key was forgotten')
  })

  test('the server going down shows an error message, not a blank page', async () => {
    await signIn(admin.key)
    await page.getByTestId('total-requests').waitFor()
    await server.app.close()
    serverClosed = true
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.getByRole('alert').getByText('The server cannot be reached').waitFor()
    assert.equal(await page.getByRole('navigation').count(), 1, 'still signed in: the key was not refused, the server was away')
  })

  test('no Content-Security-Policy violation and no script error happened', () => {
    assert.deepEqual(cspViolations, [])
    assert.deepEqual(pageErrors, [])
    assert.deepEqual(dialogs, [])
  })
})
