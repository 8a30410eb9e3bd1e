/**
 * Fastify's `childLoggerFactory`: a request's logger (`request.log`) that becomes a pino child
 * only when something logs through it. Fastify makes a child logger for every request, and
 * pino's `child()` (bindings serialised, serializers copied) was one of the larger costs of a
 * request that logs nothing through it — the one line per request is written from the app's
 * logger with the request id as a field (plugins/request-log.ts). Warnings and errors still go
 * through `request.log` and carry `reqId` as before.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString, LogFn } from 'pino'

type LogArgs = Parameters<LogFn>

class LazyChildLogger {
  private real: FastifyBaseLogger | undefined

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get logger(): FastifyBaseLogger {
    return (this.real ??= this.parent.child(this.bindings, this.options))
  }

  get level(): LevelWithSilentOrString {
    return this.real?.level ?? this.parent.level
  }

  set level(level: LevelWithSilentOrString) {
    this.logger.level = level
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options)
  }

  // Methods on the prototype: nothing is allocated per request until something is logged.
  fatal(...args: LogArgs): void {
    this.logger.fatal(...args)
  }
  error(...args: LogArgs): void {
    this.logger.error(...args)
  }
  warn(...args: LogArgs): void {
    this.logger.warn(...args)
  }
  info(...args: LogArgs): void {
    this.logger.info(...args)
  }
  debug(...args: LogArgs): void {
    this.logger.debug(...args)
  }
  trace(...args: LogArgs): void {
    this.logger.trace(...args)
  }
  silent(): void {}
}

/** Makes each request's logger; the pino child is built on its first use. */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, options)
}
