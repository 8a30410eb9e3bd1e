/**
 * Test helpers: build the real app on a temporary data directory, create keys, and share one
 * loaded copy of the built-in model across the tests of a file.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { AppOverrides } from '../src/app.js'
import { buildApp } from '../src/app.js'
import type { Config } from '../src/config.js'
import { PROJECT_ROOT, testConfig } from '../src/config.js'
import type { Scope } from '../src/keys/types.js'
import type { LimitRule } from '../src/ratelimit/policy.js'
import { loadBuiltinModel } from '../src/models/builtin/load.js'
import type { ResilientLimiter } from '../src/ratelimit/resilient.js'
import type { TextClassifier } from '../src/models/types.js'
import { TEST_DATABASE_URL, freshPostgres } from './postgres.js'

export { PROJECT_ROOT }

const tempDirs: string[] = []

/** A fresh temporary directory, removed when the process exits. */
export function tempDir(prefix = 'infergate-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  // One exit listener for all of them: one each passed Node's limit of 10 and printed a warning.
  if (tempDirs.length === 0) process.once('exit', () => tempDirs.forEach((made) => fs.rmSync(made, { recursive: true, force: true })))
  tempDirs.push(dir)
  return dir
}

let builtin: Promise<TextClassifier> | undefined

/** The committed built-in model, loaded once per test process. */
export function builtinModel(): Promise<TextClassifier> {
  builtin ??= loadBuiltinModel(path.join(PROJECT_ROOT, 'models', 'sentiment'))
  return builtin
}

export interface TestAppOptions extends AppOverrides {
  config?: Partial<Config>
}

/**
 * The real app on a new temporary store, quiet, serving the built-in model. The store is
 * SQLite, or a fresh PostgreSQL schema when INFERGATE_TEST_DATABASE_URL is set.
 */
export async function buildTestApp(options: TestAppOptions = {}): Promise<FastifyInstance> {
  const { config, ...overrides } = options
  const dataDir = config?.dataDir ?? tempDir()
  const databaseUrl = config?.databaseUrl ?? (TEST_DATABASE_URL ? await freshPostgres() : '')
  const models = overrides.models ?? [await builtinModel()]
  return buildApp(testConfig({ logLevel: 'silent', ...config, dataDir, databaseUrl }), { ...overrides, models })
}

export interface TestKeyOptions {
  scopes?: Scope[]
  expiresAt?: number | null
  name?: string
  limits?: LimitRule[] | null
  models?: string[] | null
  owner?: string
}

/** Creates a key through the service and returns the plaintext key and its id. */
export async function createKey(app: FastifyInstance, options: TestKeyOptions = {}): Promise<{ key: string; id: string }> {
  const created = await app.services.keys.create({
    name: options.name ?? 'test',
    scopes: options.scopes ?? ['predict'],
    expiresAt: options.expiresAt ?? null,
    limits: options.limits ?? null,
    models: options.models ?? null,
    ...(options.owner !== undefined && { owner: options.owner }),
  })
  return { key: created.key, id: created.record.id }
}

/** Where the shared datasets live on CI and developer machines (absent on users' machines). */
export const SHARED_DIR = path.resolve(PROJECT_ROOT, '..', 'shared')

/**
 * Resolves once the app's limiter answers from Redis rather than from its in-memory fallback
 * (ioredis connects in the background; requests before that are limited in memory, fail-open).
 */
export async function redisReady(app: FastifyInstance): Promise<void> {
  const limiter = app.services.limiter as ResilientLimiter
  const probe = [{ subject: 'ready-probe', rules: [{ name: 'probe', limit: 1, windowMs: 1000 }] }]
  for (let attempt = 0; attempt < 100; attempt++) {
    const before = limiter.fallbackDecisions
    await limiter.peek(probe)
    if (limiter.fallbackDecisions === before) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('Redis did not answer within 5 s')
}
