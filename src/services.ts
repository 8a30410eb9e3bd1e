/**
 * The services one process runs, built once from the configuration and injected into the
 * HTTP app and the CLI alike. Tests replace any of them through `ServiceOverrides`.
 */
import type { Logger } from 'pino'
import { CreditStore } from './accounting/credits.js'
import { Meter } from './accounting/meter.js'
import { creditAlerts } from './accounting/credit-alerts.js'
import { AuditStore } from './audit/store.js'
import { ThreadedAuditStore } from './audit/threaded-store.js'
import { AuditWriter } from './audit/writer.js'
import type { Config } from './config.js'
import type { Database } from './db/types.js'
import { openDatabase } from './db/database.js'
import { JobService } from './jobs/service.js'
import { JobStore } from './jobs/store.js'
import { JobWorker } from './jobs/worker.js'
import { KeyService } from './keys/service.js'
import type { Clock } from './lib/clock.js'
import { systemClock } from './lib/clock.js'
import { AppMetrics } from './metrics/registry.js'
import { LlmRegistry } from './llm/upstream.js'
import { UpstreamMetrics } from './models/remote/metrics.js'
import { TokenCredits } from './llm/token-credits.js'
import { TokenBudget } from './llm/budget.js'
import { loadModels } from './models/load-all.js'
import type { ModelRegistry } from './models/registry.js'
import type { TextClassifier } from './models/types.js'
import { AuthFailureGuard } from './ratelimit/auth-guard.js'
import { buildLimiter } from './ratelimit/build.js'
import type { Limiter } from './ratelimit/limiter.js'
import type { ConcurrencyGate } from './ratelimit/concurrency.js'
import { ConfigError } from './config.js'
import { WebhookDeliveries } from './webhooks/deliveries.js'
import { WebhookDispatcher } from './webhooks/dispatcher.js'
import { WebhookEventLog } from './webhooks/events.js'
import { secretBytes } from './webhooks/signature.js'

export interface AppServices {
  readonly config: Config
  readonly clock: Clock
  readonly db: Database
  readonly keys: KeyService
  readonly models: ModelRegistry
  readonly limiter: Limiter
  /** Concurrency caps per key and owner (`ratelimit/concurrency.ts`). */
  readonly concurrency: ConcurrencyGate
  /** Why the shared limiter store (Redis) does not answer now, or null; for `/ready`. */
  readonly limiterHealth: () => Promise<string | null>
  /** Resolves once the limiter's shared store is connected (or has had its chance to). */
  readonly limiterConnected: () => Promise<void>
  /** Charges keys for their work and refunds what bought none (`accounting/meter.ts`). */
  readonly meter: Meter
  readonly authGuard: AuthFailureGuard
  readonly jobs: JobService
  readonly jobWorker: JobWorker
  /** Buffers and writes the audit log; null with `--no-audit`. */
  readonly audit: AuditWriter | null
  /** Reads the audit log (also with `--no-audit`: older records stay readable). */
  readonly auditStore: AuditStore
  readonly metrics: AppMetrics
  /** Where webhook events are recorded (sent only when `--webhook-url` is set). */
  readonly webhookEvents: WebhookEventLog
  /** Sends them; null without `--webhook-url`. */
  readonly webhooks: WebhookDispatcher | null
  /** The OpenAI-compatible LLM servers (`--llm`), empty without any. */
  readonly llms: LlmRegistry
  /** Token limits of the LLM routes (`--llm-limit`, `--llm-owner-limit`). */
  readonly tokens: TokenBudget
  /** Credit balances in tokens, taken by the LLM routes. */
  readonly tokenCredits: TokenCredits
  /** Closes what the services opened, in order. */
  readonly close: () => Promise<void>
}

export interface ServiceOverrides {
  clock?: Clock
  /** Models to serve instead of loading the built-in one; the caller keeps ownership. */
  models?: TextClassifier[]
  /** Where remote models' `auth-env` credentials are read; default `process.env`. */
  env?: NodeJS.ProcessEnv
}

/** Opens the store (and the audit writer's own connection), loads the models, connects the limiter. */
export async function createServices(config: Config, log: Logger, overrides: ServiceOverrides = {}): Promise<AppServices> {
  const clock = overrides.clock ?? systemClock
  const metrics = new AppMetrics()
  // One set of upstream metrics for the remote models' servers and the LLM servers (`--llm`).
  const upstreamMetrics = new UpstreamMetrics(metrics.registry)
  const models = await loadModels(config, {
    ...(overrides.models ? { lent: overrides.models } : {}),
    observe: (name) => metrics.batchObserver(name),
    metrics: upstreamMetrics,
    log,
    ...(overrides.env && { env: overrides.env }),
  })
  let llms: LlmRegistry
  try {
    // One namespace: key allow-lists, usage, metrics and /ready name models and LLMs alike.
    const clash = config.llms.find((spec) => models.get(spec.name) !== undefined)
    if (clash) throw new Error(`--llm ${clash.name}: a model of that name is served already; give the LLM another name`)
    llms = await LlmRegistry.create(config.llms, {
      timeoutMs: config.llmTimeoutMs,
      metrics: upstreamMetrics,
      log,
      ...(overrides.env && { env: overrides.env }),
    })
  } catch (error) {
    await models.close()
    metrics.close()
    throw new ConfigError((error as Error).message)
  }
  const store = { dataDir: config.dataDir, databaseUrl: config.databaseUrl }
  let db: Database
  // Audit batches are written by a worker thread with its own connection: the event loop only
  // buffers records (measured: writing on it stopped the loop ~10% of the time at 6k req/s).
  let auditWorker: ThreadedAuditStore | null = null
  let opened: Database | undefined
  try {
    db = opened = await openDatabase(store)
    auditWorker = config.audit ? await ThreadedAuditStore.start(store) : null
  } catch (error) {
    // Everything opened so far is closed, so that a failed start leaves no thread or handle behind.
    await opened?.close()
    await llms.close()
    await models.close()
    metrics.close()
    throw error
  }
  const audit = auditWorker
    ? new AuditWriter({
        store: auditWorker,
        clock,
        log,
        capacity: config.auditBuffer,
        flushMs: config.auditFlushMs,
        observer: metrics.auditObserver,
      })
    : null
  const secret = webhookSecret(config, overrides.env ?? process.env)
  let dispatcher: WebhookDispatcher | null = null
  const webhookEvents = new WebhookEventLog(db.kysely, clock, () => dispatcher?.nudge())
  const keys = new KeyService({
    db,
    clock,
    defaultLimits: config.defaultLimits,
    // Revocations and rotations are also recorded as webhook events.
    audit: webhookEvents.tap(audit ?? undefined),
    onBackgroundError: (error) => log.error({ err: error }, 'background task failed'),
  })
  const {
    limiter,
    concurrency,
    health: limiterHealth,
    connected: limiterConnected,
    close: closeLimiter,
  } = buildLimiter({ config, log, clock, clockInjected: overrides.clock !== undefined })
  const credits = new CreditStore(db)
  const onBalances = creditAlerts({
    events: webhookEvents,
    lowFraction: config.creditsLowFraction,
    onError: (error) => log.warn({ err: error }, 'a credits webhook event could not be recorded'),
  })
  const meter = new Meter({
    limiter,
    keys,
    credits,
    clock,
    onRefundError: (error) => log.warn({ err: error }, 'a refund could not be made; the key stays charged'),
    onBalances,
  })
  const tokenCredits = new TokenCredits({
    credits,
    clock,
    onBalances,
    onRefundError: (error) => log.warn({ err: error }, 'a token credit refund could not be made; the key stays charged'),
  })
  const tokens = new TokenBudget({
    limiter,
    keyRules: config.llmLimits,
    ownerRules: config.llmOwnerLimits,
    onRefundError: (error) => log.warn({ err: error }, 'a token refund could not be made; the key stays charged'),
  })
  const authGuard = new AuthFailureGuard({ limiter, rule: config.authFailLimit, clock })
  const { jobs, jobWorker } = startJobs(config, { db, models, keys, clock, log })
  dispatcher = secret && startWebhooks(config, secret, { db, keys, clock, log, events: webhookEvents, metrics })
  metrics.watch({
    queueDepths: () => models.list().map((info) => [info.name, models.get(info.name)?.queueDepth() ?? 0]),
    keyCache: () => keys.cacheStats,
    ...(audit && { audit: () => ({ depth: audit.depth, capacity: audit.capacity }) }),
  })
  const close = async () => {
    try {
      await dispatcher?.stop()
      await jobWorker.stop()
      await keys.close()
      // After the server stopped answering and before the store closes: nothing is lost.
      await audit?.close()
    } finally {
      await auditWorker?.close()
      await closeLimiter()
      await db.close()
      await llms.close()
      await models.close()
      metrics.close()
    }
  }
  return {
    config,
    clock,
    db,
    keys,
    models,
    limiter,
    concurrency,
    limiterHealth,
    limiterConnected,
    meter,
    authGuard,
    jobs,
    jobWorker,
    audit,
    auditStore: new AuditStore(db),
    metrics,
    webhookEvents,
    webhooks: dispatcher,
    llms,
    tokens,
    tokenCredits,
    close,
  }
}

/** The signing secret from the variable `--webhook-secret-env` names; null without `--webhook-url`. */
function webhookSecret(config: Config, env: NodeJS.ProcessEnv): Buffer | null {
  if (config.webhookUrls.length === 0) return null
  const value = env[config.webhookSecretEnv]
  if (!value) throw new ConfigError(`--webhook-url needs a signing secret: set the environment variable ${config.webhookSecretEnv}`)
  try {
    return secretBytes(value)
  } catch (error) {
    throw new ConfigError(`the webhook secret in ${config.webhookSecretEnv} ${(error as Error).message}`)
  }
}

interface WebhookDependencies {
  db: Database
  keys: KeyService
  clock: Clock
  log: Logger
  events: WebhookEventLog
  metrics: AppMetrics
}

function startWebhooks(config: Config, secret: Buffer, deps: WebhookDependencies): WebhookDispatcher {
  const dispatcher = new WebhookDispatcher({
    urls: config.webhookUrls,
    secret,
    events: deps.events,
    deliveries: new WebhookDeliveries(deps.db.kysely),
    keys: deps.keys,
    clock: deps.clock,
    log: deps.log,
    pollMs: config.webhookPollMs,
    timeoutMs: config.webhookTimeoutMs,
    retryBaseMs: config.webhookRetryMs,
    maxAttempts: config.webhookAttempts,
    observe: (outcome) => deps.metrics.webhookAttempt(outcome),
  })
  dispatcher.start()
  return dispatcher
}

interface JobDependencies {
  db: Database
  models: ModelRegistry
  keys: KeyService
  clock: Clock
  log: Logger
}

function startJobs(config: Config, deps: JobDependencies): { jobs: JobService; jobWorker: JobWorker } {
  const store = new JobStore(deps.db)
  const jobWorker = new JobWorker({
    store,
    reclaimSpace: () => deps.db.reclaimSpace(),
    models: deps.models,
    keys: deps.keys,
    clock: deps.clock,
    log: deps.log,
    chunkSize: config.maxBatch,
    leaseMs: config.jobLeaseMs,
    retentionMs: config.jobRetentionMs,
  })
  const jobs = new JobService({
    store,
    keys: deps.keys,
    models: deps.models,
    clock: deps.clock,
    caps: {
      jobsPerKey: config.maxJobsPerKey,
      textsPerKey: config.maxQueuedTextsPerKey,
      bytesPerKey: config.maxQueuedBytesPerKey,
      textsPerOwner: config.maxQueuedTextsPerOwner,
      bytesPerOwner: config.maxQueuedBytesPerOwner,
    },
    onCreated: () => jobWorker.notify(),
  })
  jobWorker.start()
  return { jobs, jobWorker }
}
