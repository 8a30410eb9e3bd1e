/**
 * The services one process runs, built once from the configuration and injected into the
 * HTTP app and the CLI alike. Tests replace any of them through `ServiceOverrides`.
 */
import { AuditStore } from './audit/store.js'
import { WorkerAuditStore } from './audit/worker-store.js'
import { AuditWriter } from './audit/writer.js'
import type { Config } from './config.js'
import { ConfigError } from './config.js'
import type { Database } from './db/database.js'
import { openDatabase } from './db/database.js'
import { KeyService } from './keys/service.js'
import type { Clock } from './lib/clock.js'
import { systemClock } from './lib/clock.js'
import { loadBuiltinModel } from './models/builtin/load.js'
import { ModelRegistry } from './models/registry.js'
import type { TextClassifier } from './models/types.js'
import { AuthFailureGuard } from './ratelimit/auth-guard.js'
import { buildLimiter } from './ratelimit/build.js'
import type { Limiter } from './ratelimit/limiter.js'
import { AppMetrics } from './metrics/registry.js'
import type { Logger } from 'pino'

export interface AppServices {
  readonly config: Config
  readonly clock: Clock
  readonly db: Database
  readonly keys: KeyService
  readonly models: ModelRegistry
  readonly limiter: Limiter
  readonly authGuard: AuthFailureGuard
  /** Buffers and writes the audit log; null with `--no-audit`. */
  readonly audit: AuditWriter | null
  /** Reads the audit log (also with `--no-audit`: older records stay readable). */
  readonly auditStore: AuditStore
  readonly metrics: AppMetrics
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
  const models = await loadModels(config, overrides.models)
  let db: Database
  try {
    db = await openDatabase({ dataDir: config.dataDir })
  } catch (error) {
    await models.close()
    throw error
  }
  const auditStore = new AuditStore(db)
  // Batches are written by a worker thread with its own connection: the event loop only
  // buffers records (measured: writing on it stopped the loop ~10% of the time at 6k req/s).
  const auditWorker = config.audit ? new WorkerAuditStore(config.dataDir) : null
  try {
    await auditWorker?.start()
  } catch (error) {
    await db.close()
    await models.close()
    throw error
  }
  const metrics = new AppMetrics()
  models.observer = metrics.modelObserver
  const audit = auditWorker
    ? new AuditWriter({ store: auditWorker, clock, log, capacity: config.auditBuffer, flushMs: config.auditFlushMs, observer: metrics.auditObserver })
    : null
  const keys = new KeyService({ db, clock, audit: audit ?? undefined, onBackgroundError: (error) => log.error({ err: error }, 'background task failed') })
  const { limiter, close: closeLimiter } = buildLimiter({ config, log, clock, clockInjected: overrides.clock !== undefined })
  const authGuard = new AuthFailureGuard({ limiter, rule: config.authFailLimit, clock })
  metrics.watch({
    queueDepths: () => models.list().map((info) => [info.name, models.get(info.name)?.queueDepth() ?? 0]),
    keyCache: () => keys.cacheStats,
    ...(audit && { audit: () => ({ depth: audit.depth, capacity: audit.capacity }) }),
  })
  const close = async () => {
    try {
      await keys.close()
      // After the server stopped answering and before the store closes: nothing is lost.
      await audit?.close()
    } finally {
      await auditWorker?.close()
      await closeLimiter()
      await db.close()
      await models.close()
      metrics.close()
    }
  }
  return { config, clock, db, keys, models, limiter, authGuard, audit, auditStore, metrics, close }
}

async function loadModels(config: Config, lent: TextClassifier[] | undefined): Promise<ModelRegistry> {
  const registry = new ModelRegistry()
  const batching = { maxBatch: config.maxBatch, maxWaitMs: config.maxWaitMs }
  if (lent) {
    for (const model of lent) registry.add(model, batching, false)
    return registry
  }
  try {
    registry.add(await loadBuiltinModel(config.modelDir), batching)
  } catch (error) {
    throw new ConfigError(`cannot load the built-in model (--model-dir ${config.modelDir}): ${(error as Error).message}`)
  }
  return registry
}
