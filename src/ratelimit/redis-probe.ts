/**
 * Is Redis there? Asked once at start (`--redis-url` is checked before the server listens:
 * with `--ratelimit-fail closed` a server that cannot reach it refuses to start, with `open` it
 * starts with a warning) and by `/ready` (which then says `degraded`, with the reason).
 */
import { Redis } from 'ioredis'
import { redactUrl } from '../lib/redact-url.js'

/** One phrase for why Redis did not answer, e.g. `connection refused (ECONNREFUSED)`. */
export function redisFailure(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string }
  const why: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'host name not resolved',
    ETIMEDOUT: 'timed out',
    EHOSTUNREACH: 'host unreachable',
  }
  if (code && why[code]) return `${why[code]} (${code})`
  if (/NOAUTH|WRONGPASS/.test(message ?? '')) return 'the password was refused'
  return message ? message.split('\n')[0]!.slice(0, 200) : 'no answer'
}

/** The reason Redis at `url` does not answer a PING within `timeoutMs`, or null when it does. */
export async function probeRedis(url: string, timeoutMs = 2000): Promise<string | null> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
  })
  // ioredis rejects with "Connection is closed"; the socket's own error (ECONNREFUSED…) comes as an event.
  let cause: unknown
  redis.on('error', (error) => (cause ??= error))
  try {
    await redis.connect()
    await redis.ping()
    return null
  } catch (error) {
    return `Redis at ${redactUrl(url)} does not answer: ${redisFailure(cause ?? error)}`
  } finally {
    redis.disconnect()
  }
}
