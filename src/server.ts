/**
 * Starts the HTTP server: builds the app, creates the first key on an empty store, listens,
 * and shuts down gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight requests,
 * flush and close the services, exit 0).
 */
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import { buildApp } from './app.js'
import type { Config } from './config.js'
import { ConfigError } from './config.js'
import type { CreatedKey } from './keys/service.js'
import { dataDirWarning } from './db/file-modes.js'
import { bufferedStdout, createLogger } from './logger.js'
import { lockStore } from './db/server-lock.js'
import { StartupError } from './lib/startup-error.js'
import { probeRedis } from './ratelimit/redis-probe.js'

/** Prints the bootstrap key once, on stderr only: never into the structured log. */
function bootstrapBanner(created: CreatedKey, header: string): string {
  const lines = [
    'infergate: the key store was empty, so an admin key was created.',
    'It is shown this once and is not stored anywhere; keep it in a secret manager:',
    '',
    `    ${created.key}`,
    '',
    `Send it as the ${header} header (or Authorization: Bearer).`,
    'Create keys for your clients with: infergate keys create --name NAME',
  ]
  const width = Math.max(...lines.map((line) => line.length)) + 2
  const rule = '='.repeat(width)
  return ['', rule, ...lines.map((line) => ` ${line}`), rule, ''].join('\n')
}

/** `--no-bootstrap` on an empty store: the server would refuse every request, and say nothing. */
const NO_KEY_WARNING =
  'infergate: warning: the key store is empty and --no-bootstrap is set, so no request can be authenticated: create a key with `infergate keys create --name NAME --scopes admin,predict` (same --data-dir or --database-url)'

const LISTEN_ADVICE: Record<string, string> = {
  EADDRINUSE: 'the port is in use (another infergate, or another program): stop it or choose another --port',
  EACCES: 'not allowed to use this port (ports below 1024 need privileges): choose another --port',
  EADDRNOTAVAIL: 'this machine has no such address: check --host',
}

/** One line naming the address and what to do, for the errors a listen can end with. */
function listenError(error: unknown, config: Config): Error {
  const advice = LISTEN_ADVICE[(error as NodeJS.ErrnoException).code ?? '']
  if (!advice) return error as Error
  return new ConfigError(`cannot listen on ${config.host}:${config.port}: ${advice}`)
}

export async function startServer(config: Config): Promise<FastifyInstance> {
  await checkRedis(config)
  // A second server on one SQLite store would double every in-memory limit (docs/configuration.md).
  const lock = config.databaseUrl === '' && config.redisUrl === '' ? lockStore(config.dataDir) : undefined
  const logger = createLogger(config.logLevel, bufferedStdout(), config.apiKeyHeader)
  let app: FastifyInstance
  try {
    app = await buildApp(config, { logger })
  } catch (error) {
    lock?.release()
    throw error
  }
  if (lock) app.addHook('onClose', () => lock.release())
  const openToOthers = config.databaseUrl ? undefined : dataDirWarning(config.dataDir)
  if (openToOthers) app.log.warn(openToOthers)
  try {
    await app.listen({ host: config.host, port: config.port })
  } catch (error) {
    // Close every thread, connection and timer, so that the process exits instead of idling.
    await app.close()
    throw listenError(error, config)
  }
  lock?.listening(listeningOn(app))
  // Once listening: a start that fails (a port in use) must not make and print a key it then drops.
  if (config.bootstrap) {
    const created = await app.services.keys.bootstrapIfEmpty()
    if (created) process.stderr.write(bootstrapBanner(created, config.apiKeyHeader) + '\n')
  }
  handleSignals(app, logger, config)
  // Once listening, so that a start that fails says only why.
  if (!config.bootstrap && (await app.services.keys.isEmpty())) process.stderr.write(`${NO_KEY_WARNING}\n`)
  // Beyond it the operating system's backlog holds new connections; Node closes any it accepts over the cap.
  if (config.maxConnections > 0) app.server.maxConnections = config.maxConnections
  return app
}

/** `host:port` the server listens on (the port chosen when --port 0). */
function listeningOn(app: FastifyInstance): string {
  const address = app.server.address()
  return typeof address === 'object' && address ? `${address.address}:${address.port}` : String(address)
}

/**
 * `--redis-url` is checked before anything starts: with `--ratelimit-fail closed` a server that
 * cannot reach Redis would refuse every limited request, so it refuses to start; with `open`
 * it starts on in-memory limits and says so (and `/ready` says `degraded` until Redis answers).
 */
async function checkRedis(config: Config): Promise<void> {
  if (config.redisUrl === '') return
  const failure = await probeRedis(config.redisUrl)
  if (failure === null) return
  if (config.ratelimitFail === 'closed')
    throw new StartupError(
      `${failure}: start Redis or fix --redis-url (--ratelimit-fail closed refuses to start without it; with open, the server starts on in-memory limits)`,
    )
  process.stderr.write(
    `infergate: warning: ${failure}; serving on in-memory limits, per instance, until it answers (--ratelimit-fail open): start Redis or fix --redis-url\n`,
  )
}

function handleSignals(app: FastifyInstance, logger: Logger, config: Config): void {
  let closing = false
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) {
      app.log.warn({ signal }, 'second signal: exiting without waiting')
      process.exit(1)
    }
    closing = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    setTimeout(() => {
      app.log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out: exiting anyway')
      exitAfterFlush(logger, 1)
    }, config.shutdownTimeoutMs).unref()
    app.close().then(
      () => exitAfterFlush(logger, 0, 'stopped'),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while shutting down')
        exitAfterFlush(logger, 1, 'stopped with errors')
      },
    )
  }
  process.on('SIGTERM', shutdown)
  process.on('SIGINT', shutdown)
}

/** Exits once the log is written; if the log cannot be written (stdout closed), after 1 s anyway. */
function exitAfterFlush(logger: Logger, code: number, message?: string): void {
  if (message) logger.info(message)
  setTimeout(() => process.exit(code), 1000)
  logger.flush(() => process.exit(code))
}
