/**
 * The services one process runs, built once from the configuration and injected into the
 * HTTP app and the CLI alike. Tests replace any of them through `ServiceOverrides`.
 */
import type { Config } from './config.js'
import type { Database } from './db/database.js'
import { openDatabase } from './db/database.js'
import { KeyService } from './keys/service.js'
import type { Clock } from './lib/clock.js'
import { systemClock } from './lib/clock.js'
import { loadModels } from './models/load-all.js'
import type { ModelRegistry } from './models/registry.js'
import type { TextClassifier } from './models/types.js'
import { AuthFailureGuard } from './ratelimit/auth-guard.js'
import { buildLimiter } from './ratelimit/build.js'
import type { Limiter } from './ratelimit/limiter.js'
import type { Logger } from 'pino'
import { JobService } from './jobs/service.js'
import { JobStore } from './jobs/store.js'
import { JobWorker } from './jobs/worker.js'

export interface AppServices {
  readonly config: Config
  readonly clock: Clock
  readonly db: Database
  readonly keys: KeyService
  readonly models: ModelRegistry
  readonly limiter: Limiter
  readonly authGuard: AuthFailureGuard
  readonly jobs: JobService
  readonly jobWorker: JobWorker
  /** Closes what the services opened, in order. */
  readonly close: () => Promise<void>
}

export interface ServiceOverrides {
  clock?: Clock
  /** Models to serve instead of loading the built-in one; the caller keeps ownership. */
  models?: TextClassifier[]
}

/** Opens the store, loads the models and connects the limiter. */
export async function createServices(config: Config, log: Logger, overrides: ServiceOverrides = {}): Promise<AppServices> {
  const clock = overrides.clock ?? systemClock
  const models = await loadModels(config, { ...(overrides.models ? { lent: overrides.models } : {}) })
  let db: Database
  try {
    db = await openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl })
  } catch (error) {
    await models.close()
    throw error
  }
  const keys = new KeyService({ db, clock, onBackgroundError: (error) => log.error({ err: error }, 'background task failed') })
  const { limiter, close: closeLimiter } = buildLimiter({ config, log, clock, clockInjected: overrides.clock !== undefined })
  const authGuard = new AuthFailureGuard({ limiter, rule: config.authFailLimit, clock })
  const jobStore = new JobStore(db.kysely)
  const jobWorker = new JobWorker({
    store: jobStore,
    models,
    limiter,
    keys,
    defaultLimits: config.defaultLimits,
    clock,
    log,
    chunkSize: config.maxBatch,
    leaseMs: config.jobLeaseMs,
    retentionMs: config.jobRetentionMs,
  })
  const jobs = new JobService({ store: jobStore, models, clock, maxActivePerKey: config.maxJobsPerKey, onCreated: () => jobWorker.notify() })
  jobWorker.start()
  const close = async () => {
    await jobWorker.stop()
    await keys.close()
    await closeLimiter()
    await db.close()
    await models.close()
  }
  return { config, clock, db, keys, models, limiter, authGuard, jobs, jobWorker, close }
}

