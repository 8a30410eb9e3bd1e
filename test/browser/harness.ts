/**
 * What the browser tests and the screenshot script share: Debian's Chromium driven by
 * playwright-core, and a real infergate server listening on a free port.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Browser } from 'playwright-core'
import { chromium } from 'playwright-core'
import type { FastifyInstance } from 'fastify'
import { PROJECT_ROOT, buildTestApp } from '../helper.js'
import type { TestAppOptions } from '../helper.js'

/** Debian's package; never a browser downloaded by Playwright. */
export const CHROMIUM = process.env.INFERGATE_CHROMIUM ?? '/usr/bin/chromium'

export const chromiumMissing = !fs.existsSync(CHROMIUM)

export const DASHBOARD_BUILT = fs.existsSync(path.join(PROJECT_ROOT, 'dist', 'dashboard', 'index.html'))

export function launchChromium(): Promise<Browser> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] })
}

export interface RunningApp {
  app: FastifyInstance
  url: string
}

/** The real app (temporary SQLite store, built-in model) listening on 127.0.0.1 on a free port. */
export async function startApp(options: TestAppOptions = {}): Promise<RunningApp> {
  const app = await buildTestApp(options)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url }
}
