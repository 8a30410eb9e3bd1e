/**
 * `npm run docs:screenshots`: fills a temporary server with an hour of made-up traffic, opens
 * the dashboard in Debian's Chromium and saves the Overview, Keys and Audit pages as
 * docs/images/dashboard-{overview,keys,audit}.png (1280 px wide).
 */
import path from 'node:path'
import { ManualClock } from '../src/lib/clock.js'
import { parseRules } from '../src/ratelimit/policy.js'
import { PROJECT_ROOT } from '../test/helper.js'
import { CHROMIUM, DASHBOARD_BUILT, chromiumMissing, launchChromium, startApp } from '../test/browser/harness.js'

const MINUTE = 60_000
const OUT = path.join(PROJECT_ROOT, 'docs', 'images')

/** A small deterministic generator, so the pictures change only when the dashboard does. */
function random(seed: number): () => number {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 31
  }
}

async function main(): Promise<void> {
  if (chromiumMissing) throw new Error(`${CHROMIUM} is absent: apt-get install -y chromium`)
  if (!DASHBOARD_BUILT) throw new Error('the dashboard is not built: npm run build:dashboard')
  const now = Date.now()
  const clock = new ManualClock(now - 60 * MINUTE)
  const { app, url } = await startApp({ clock })
  try {
    const keys = app.services.keys
    const make = async (name: string, owner: string, scopes: ('admin' | 'predict')[], limits: string[] | null) =>
      (await keys.create({ name, owner, scopes, limits: limits === null ? null : parseRules(limits) }, 'cli')).key
    const operator = await make('on-call operator', 'ops', ['admin', 'predict'], null)
    const checkout = await make('checkout-service prod', 'team-payments', ['predict'], ['100/1m'])
    const indexer = await make('search-indexer', 'team-search', ['predict'], ['40/1m'])
    const mobile = await make('mobile app v3', 'team-mobile', ['predict'], ['6/1m'])
    const legacy = await keys.create({ name: 'legacy batch', owner: 'team-search', scopes: ['predict'] }, 'cli')
    await keys.revoke(legacy.record.id, 'cli')
    const next = random(42)
    const texts = ['a wonderful film', 'a dull, tedious mess', 'fast delivery, works great', 'broke after a week', 'just fine']
    const predict = (key: string, text = texts[Math.floor(next() * texts.length)]!) =>
      app.inject({
        method: 'POST',
        url: '/v1/models/sentiment/predict',
        headers: key === '' ? {} : { 'x-api-key': key },
        payload: { text },
      })
    for (let minute = 0; minute < 60; minute++) {
      clock.set(now - (60 - minute) * MINUTE + 1_000)
      const burst = minute > 35 && minute < 48 ? 3 : 1
      const times = (n: number, key: string) => Promise.all(Array.from({ length: Math.round(n) }, () => predict(key)))
      await times(8 + next() * 14, checkout)
      await times((4 + next() * 8) * burst, indexer)
      await times(3 + next() * 7, mobile)
      if (next() < 0.3) await predict(legacy.key)
      if (next() < 0.2) await predict('')
      if (next() < 0.15) await predict(checkout, ' ')
    }
    clock.set(now)
    await app.services.audit!.flush()

    const browser = await launchChromium()
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      await page.goto(`${url}/dashboard/`)
      await page.getByLabel('Admin API key').fill(operator)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByTestId('overview-chart').locator('canvas').waitFor()
      await page.screenshot({ path: path.join(OUT, 'dashboard-overview.png'), fullPage: true })
      await page.getByRole('link', { name: 'Keys', exact: true }).click()
      await page.getByTestId('keys-table').waitFor()
      await page.screenshot({ path: path.join(OUT, 'dashboard-keys.png'), fullPage: true })
      await page.getByRole('link', { name: 'Audit', exact: true }).click()
      await page.getByTestId('audit-table').waitFor()
      await page.getByRole('button', { name: 'Verify chain' }).click()
      await page.getByText('chain intact').waitFor()
      await page.screenshot({ path: path.join(OUT, 'dashboard-audit.png') })
    } finally {
      await browser.close()
    }
  } finally {
    await app.close()
  }
  console.log(`screenshots written to ${path.relative(PROJECT_ROOT, OUT)}/dashboard-{overview,keys,audit}.png`)
}

await main()
