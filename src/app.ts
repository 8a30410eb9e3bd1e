/**
 * `buildApp(config, overrides)`: the whole HTTP application, with its services injected.
 * `server.ts` only listens and handles signals; tests build the app and call `inject()`.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import Fastify, { LogController } from 'fastify'
import type { Logger } from 'pino'
import path from 'node:path'
import type { Config } from './config.js'
import { PROJECT_ROOT } from './config.js'
import { clientErrorHandler } from './http/client-error.js'
import { frameworkErrors } from './http/framework-errors.js'
import { parseQueryString } from './http/query-string.js'
import { lazyChildLogger } from './http/request-logger.js'
import { createLogger } from './logger.js'
import auditPlugin from './plugins/audit.js'
import corsPlugin from './plugins/cors.js'
import dashboardPlugin from './plugins/dashboard.js'
import authPlugin from './plugins/auth.js'
import errorHandler from './plugins/error-handler.js'
import jsonBody from './plugins/json-body.js'
import ledger from './plugins/ledger.js'
import metricsPlugin from './plugins/metrics.js'
import methodNotAllowed from './plugins/method-not-allowed.js'
import openapi from './plugins/openapi.js'
import rateLimit from './plugins/rate-limit.js'
import concurrencyCaps from './plugins/concurrency.js'
import requestId, { requestIdOf } from './plugins/request-id.js'
import requestLog from './plugins/request-log.js'
import securityHeaders from './plugins/security-headers.js'
import unreadBody from './plugins/unread-body.js'
import validation from './plugins/validation.js'
import auditRoutes from './routes/audit.js'
import healthRoutes from './routes/health.js'
import jobRoutes from './routes/jobs.js'
import keyRoutes from './routes/keys.js'
import metricsRoutes from './routes/metrics.js'
import modelRoutes from './routes/models.js'
import openAiRoutes from './routes/openai.js'
import ownerRoutes from './routes/owners.js'
import predictRoutes from './routes/predict.js'
import usageRoutes from './routes/usage.js'
import usageSummaryRoutes from './routes/usage-summary.js'
import tokenUsageRoutes from './routes/usage-tokens.js'
import type { AppServices, ServiceOverrides } from './services.js'
import { createServices } from './services.js'
import { VERSION } from './version.js'

declare module 'fastify' {
  interface FastifyInstance {
    services: AppServices
  }
}

export interface AppOverrides extends ServiceOverrides {
  /** The logger to use; default: pino JSON on stdout at the configured level. */
  logger?: Logger
}

/** Builds the app and its services; closing the app closes the services. */
export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  const logger = overrides.logger ?? createLogger(config.logLevel, undefined, config.apiKeyHeader)
  const services = await createServices(config, logger, overrides)
  // Typed as Fastify's logger so that the app's type does not depend on pino's.
  const loggerInstance: FastifyBaseLogger = logger
  const app = Fastify({
    loggerInstance,
    childLoggerFactory: lazyChildLogger,
    // One line per request from request-log.ts instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    genReqId: requestIdOf,
    requestIdHeader: false,
    // While closing, a request that still arrives on an open keep-alive connection is served
    // (with Connection: close) rather than refused by Fastify's bare 503: that answer would
    // carry neither our error shape nor an audit record.
    return503OnClosing: false,
    trustProxy: config.trustProxy,
    // Slow clients (headers or body trickled in) are cut off with 408 instead of holding a
    // connection forever; Node checks the deadlines every connectionsCheckingInterval.
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: config.requestTimeoutMs > 0 ? Math.min(config.headersTimeoutMs, config.requestTimeoutMs) : config.headersTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    // Query strings decoded as FastAPI decodes them (bad escapes kept, not the whole value).
    routerOptions: { querystringParser: parseQueryString },
    clientErrorHandler: clientErrorHandler(config.maxBodyBytes),
    frameworkErrors: frameworkErrors(config.maxBodyBytes),
  })
  app.decorate('services', services)
  app.addHook('onClose', () => services.close())
  // Not ready (nor listening) before the limits' shared store is connected: see buildLimiter.
  app.addHook('onReady', () => services.limiterConnected())

  await app.register(ledger)
  await app.register(errorHandler)
  await app.register(requestId)
  await app.register(securityHeaders)
  await app.register(unreadBody, { maxBytes: config.maxBodyBytes })
  // Before audit and auth: a preflight is answered without a key (and is not audited).
  await app.register(corsPlugin, { origins: config.corsOrigins, apiKeyHeader: config.apiKeyHeader })
  // Before any route (it records them), after the hooks that set the headers of every answer.
  await app.register(methodNotAllowed)
  await app.register(jsonBody)
  await app.register(validation)
  // Before auth: while the audit buffer is full, refuse before doing any work.
  if (services.audit) await app.register(auditPlugin, { writer: services.audit, clock: services.clock })
  await app.register(authPlugin, { keys: services.keys, header: config.apiKeyHeader, guard: services.authGuard })
  await app.register(rateLimit, { meter: services.meter, clock: services.clock })
  // Its lease is taken right after auth (onRequest), its headers after the limits' (onSend).
  await app.register(concurrencyCaps, { gate: services.concurrency })
  await app.register(requestLog)
  await app.register(metricsPlugin, { metrics: services.metrics })
  await app.register(openapi, { apiKeyHeader: config.apiKeyHeader, version: VERSION })
  await app.register(healthRoutes)
  await app.register(predictRoutes, { maxTextLength: config.maxTextLength, maxTexts: config.maxTexts, timeoutMs: config.predictTimeoutMs })
  await app.register(modelRoutes)
  await app.register(openAiRoutes, { defaultMaxTokens: config.llmMaxTokens })
  await app.register(jobRoutes, {
    maxTextLength: config.maxTextLength,
    maxJobTexts: config.maxJobTexts,
    maxJobBodyBytes: config.maxJobBodyBytes,
  })
  await app.register(keyRoutes)
  await app.register(ownerRoutes)
  await app.register(auditRoutes)
  await app.register(usageRoutes)
  await app.register(usageSummaryRoutes)
  await app.register(tokenUsageRoutes)
  await app.register(metricsRoutes, { public: config.metricsPublic })
  await app.register(dashboardPlugin, { root: path.join(PROJECT_ROOT, 'dist', 'dashboard') })
  return app
}
