/**
 * Structured JSON logs with pino. Headers that carry keys are redacted, and the request
 * serializer logs no headers at all.
 */
import pino from 'pino'
import type { Logger, LevelWithSilent, DestinationStream } from 'pino'

export const REDACTED_PATHS = ['req.headers["x-api-key"]', 'req.headers.authorization', 'headers.authorization']

/** A pino logger at `level`, writing to `destination` (stdout by default). */
export function createLogger(level: LevelWithSilent, destination?: DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination)
}
