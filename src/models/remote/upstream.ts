/**
 * HTTP to one remote model's server: a keep-alive pool (undici) of at most `connections`
 * sockets, a deadline on every call, cancellation, a cap on the answer's size, and every way a
 * call can fail sorted into an `UpstreamFailure`. The credential header is added here and
 * nowhere else; nothing from the client's request is forwarded.
 */
import { Pool } from 'undici'
import { ErrorCode } from '../../errors.js'
import { UpstreamFailure, retryAfterHeader } from './failure.js'

export interface UpstreamOptions {
  /** Sockets kept open to the server (the model's max-concurrency). */
  connections: number
  /** Longest one call may take, connecting included. */
  timeoutMs: number
  /** The credential header (name → value), when the server wants one. */
  auth?: { header: string; value: string }
}

export interface UpstreamRequest {
  method: 'GET' | 'POST'
  /** Path and query on the server's origin. */
  path: string
  /** A JSON body. */
  json?: unknown
}

export interface UpstreamAnswer {
  status: number
  body: string
}

// An answer larger than this is not a classification: refuse it rather than hold it in memory.
const MAX_ANSWER_BYTES = 8 * 1024 * 1024
const TIMED_OUT = Symbol('timed out')

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT'])
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

export class UpstreamClient {
  readonly origin: string
  private readonly pool: Pool
  private readonly headers: Record<string, string>

  constructor(
    url: string,
    private readonly options: UpstreamOptions,
  ) {
    this.origin = new URL(url).origin
    this.pool = new Pool(this.origin, {
      connections: options.connections,
      pipelining: 1,
      connect: { timeout: Math.min(options.timeoutMs, 10_000) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      maxResponseSize: MAX_ANSWER_BYTES,
    })
    this.headers = { accept: 'application/json', ...(options.auth && { [options.auth.header.toLowerCase()]: options.auth.value }) }
  }

  /**
   * One call; resolves with a 2xx answer's body, throws `UpstreamFailure` otherwise. `signal`
   * cancels the call (its reason decides whether that is a timeout or the callers leaving).
   */
  async call(request: UpstreamRequest, signal?: AbortSignal): Promise<UpstreamAnswer> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(TIMED_OUT), this.options.timeoutMs)
    const forward = () => controller.abort(signal!.reason)
    if (signal?.aborted) forward()
    else signal?.addEventListener('abort', forward, { once: true })
    try {
      const answer = await this.pool.request({
        method: request.method,
        path: request.path,
        headers: request.json === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: request.json === undefined ? null : JSON.stringify(request.json),
        signal: controller.signal,
      })
      const body = await readCapped(answer.body)
      if (answer.statusCode < 200 || answer.statusCode > 299) {
        throw new UpstreamFailure('status', `answered HTTP ${answer.statusCode}`, {
          status: answer.statusCode,
          ...optional('retryAfterMs', retryAfterHeader(answer.headers['retry-after'])),
        })
      }
      return { status: answer.statusCode, body }
    } catch (error) {
      throw classify(error, controller.signal)
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', forward)
    }
  }

  /** Closes the pool once the calls in flight are done. */
  async close(): Promise<void> {
    await this.pool.close()
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>)
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > MAX_ANSWER_BYTES) {
      body.destroy()
      throw new UpstreamFailure('invalid_answer', `answer larger than ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function codeOf(error: unknown): string | undefined {
  const { code, errors } = error as { code?: unknown; errors?: unknown[] }
  if (typeof code === 'string') return code
  // Several addresses tried (localhost: ::1 and 127.0.0.1): the first one tells.
  return Array.isArray(errors) && errors.length > 0 ? codeOf(errors[0]) : undefined
}

/** Sorts whatever a call threw into the failure kinds. */
function classify(error: unknown, signal: AbortSignal): UpstreamFailure {
  if (error instanceof UpstreamFailure) return error
  if (signal.aborted) {
    if (signal.reason === TIMED_OUT) return new UpstreamFailure('timeout', 'no answer in time')
    // The callers' deadline passed (a timeout of the server) or they left (nobody's fault).
    const code = (signal.reason as { code?: unknown } | undefined)?.code
    if (code === ErrorCode.PredictionTimeout || code === ErrorCode.UpstreamTimeout) return new UpstreamFailure('timeout', 'no answer before the callers’ deadline')
    return new UpstreamFailure('aborted', 'every caller gave up')
  }
  const code = codeOf(error) ?? ''
  if (UNREACHABLE.has(code)) return new UpstreamFailure('unreachable', `cannot connect (${code})`)
  if (TIMEOUTS.has(code)) return new UpstreamFailure('timeout', `no answer in time (${code})`)
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return new UpstreamFailure('invalid_answer', 'answer too large')
  if (code.startsWith('HPE_')) return new UpstreamFailure('invalid_answer', `not HTTP (${code})`)
  return new UpstreamFailure('dropped', `connection lost (${code || (error as Error).name})`)
}
