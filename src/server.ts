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
  const logger = createLogger(config.logLevel, bufferedStdout(), config.apiKeyHeader)
  const app = await buildApp(config, { logger })
  const openToOthers = config.databaseUrl ? undefined : dataDirWarning(config.dataDir)
  if (openToOthers) app.log.warn(openToOthers)
  if (config.bootstrap) {
    const created = await app.services.keys.bootstrapIfEmpty()
    if (created) process.stderr.write(bootstrapBanner(created, config.apiKeyHeader) + '\n')
  }
  try {
    await app.listen({ host: config.host, port: config.port })
  } catch (error) {
    // Close every thread, connection and timer, so that the process exits instead of idling.
    await app.close()
    throw listenError(error, config)
  }
  handleSignals(app, logger, config)
  // Once listening, so that a start that fails says only why.
  if (!config.bootstrap && (await app.services.keys.isEmpty())) process.stderr.write(`${NO_KEY_WARNING}\n`)
  // Beyond it the operating system's backlog holds new connections; Node closes any it accepts over the cap.
  if (config.maxConnections > 0) app.server.maxConnections = config.maxConnections
  return app
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
