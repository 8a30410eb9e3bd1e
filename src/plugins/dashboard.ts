/**
 * Serves the web dashboard (the single-page app built from dashboard/ into dist/dashboard) at
 * `/dashboard/`, without a key: the page itself holds no data, and every API call it makes
 * carries the admin key the operator signs in with. Every answer carries a strict
 * Content-Security-Policy: scripts, styles and requests only from this origin, no framing.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import fastifyStatic from '@fastify/static'
import { AppError, ErrorCode } from '../errors.js'

export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

export interface DashboardOptions {
  /** The built dashboard (index.html and assets/). */
  root: string
}

const SECURITY_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
}

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000
/** The only files served: the page and the built assets (no dotfiles, no other folder). */
const SERVED_FILE = /^(index\.html|assets\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)$/

function sendPage(reply: FastifyReply, file: string): FastifyReply {
  reply.headers(SECURITY_HEADERS)
  // Built assets have content hashes in their names: cache them for good; never the page.
  if (file.startsWith('assets/')) return reply.sendFile(file, { maxAge: ONE_YEAR_MS, immutable: true })
  reply.header('cache-control', 'no-cache')
  return reply.sendFile(file, { cacheControl: false })
}

export default async function dashboardPlugin(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  const routeOptions = { config: { public: true }, schema: { hide: true } }
  app.get('/dashboard', routeOptions, (_request, reply) => reply.redirect('/dashboard/'))
  if (!fs.existsSync(path.join(options.root, 'index.html'))) {
    app.get('/dashboard/*', routeOptions, () => {
      throw new AppError(ErrorCode.NotFound, 'The dashboard is not built: run `npm run build:dashboard` (npm ci builds it).')
    })
    return
  }
  await app.register(fastifyStatic, { root: options.root, serve: false, dotfiles: 'deny', index: false })
  app.get<{ Params: { '*': string } }>('/dashboard/*', routeOptions, (request, reply) => {
    const file = request.params['*'] || 'index.html'
    if (!SERVED_FILE.test(file)) return reply.callNotFound()
    return sendPage(reply, file)
  })
}
