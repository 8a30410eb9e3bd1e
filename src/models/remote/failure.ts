/**
 * Why a call to a remote model's server failed, and the answer the caller gets for it. The
 * upstream's own body is never part of either: servers put stack traces, inputs and internal
 * host names in error bodies, so the caller learns the kind of failure and the status only.
 */
import { AppError, ErrorCode, errors } from '../../errors.js'

/**
 * - `unreachable`: no connection (refused, unknown host, connect timeout);
 * - `dropped`: the connection closed before a whole answer (upstream killed mid-call);
 * - `timeout`: no whole answer in time;
 * - `status`: an HTTP error status;
 * - `invalid_answer`: not JSON, the wrong shape, a missing field, a label the model does not have;
 * - `breaker_open`: not sent, the breaker is open;
 * - `aborted`: every caller gave up (client gone), not a fault of the server.
 */
export type FailureKind = 'unreachable' | 'dropped' | 'timeout' | 'status' | 'invalid_answer' | 'breaker_open' | 'aborted'

export interface FailureOptions {
  status?: number
  /** From the upstream's Retry-After (429, 503), in milliseconds. */
  retryAfterMs?: number
}

export class UpstreamFailure extends Error {
  override name = 'UpstreamFailure'
  readonly status: number | undefined
  readonly retryAfterMs: number | undefined

  /** `reason` is for infergate's log only (never the upstream body, never a credential). */
  constructor(
    readonly kind: FailureKind,
    reason: string,
    options: FailureOptions = {},
  ) {
    super(reason)
    this.status = options.status
    this.retryAfterMs = options.retryAfterMs
  }

  /**
   * Whether the failure says the server is unhealthy, so it counts toward opening the breaker.
   * A refusal of one input (400, 413, 422...) does not: otherwise one key sending texts the
   * server rejects could cut every other key off the model.
   */
  get countsAgainstServer(): boolean {
    if (this.kind === 'aborted' || this.kind === 'breaker_open') return false
    if (this.kind !== 'status') return true
    const status = this.status ?? 500
    return status >= 500 || [401, 403, 404, 405, 408, 429].includes(status)
  }
}

/** An upstream Retry-After header (seconds or an HTTP date) in milliseconds, bounded to 1 s–5 min. */
export function retryAfterHeader(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value
  if (raw === undefined || raw.trim() === '') return undefined
  const ms = /^\d+$/.test(raw.trim()) ? Number(raw) * 1000 : Date.parse(raw) - now
  if (!Number.isFinite(ms)) return undefined
  return Math.min(Math.max(ms, 1000), 300_000)
}

function seconds(ms: number | undefined): string {
  return String(Math.max(1, Math.ceil((ms ?? 1000) / 1000)))
}

/** The answer a caller gets for a failure of model `model`'s server. */
export function failureAnswer(failure: UpstreamFailure, model: string): AppError {
  const server = `The server of the model '${model}'`
  switch (failure.kind) {
    case 'timeout':
      return new AppError(ErrorCode.UpstreamTimeout, `${server} did not answer in time`)
    case 'breaker_open': {
      const wait = seconds(failure.retryAfterMs)
      return new AppError(ErrorCode.UpstreamUnavailable, `The model '${model}' is unavailable: its server keeps failing. Try again in ${wait} seconds.`, {
        headers: { 'retry-after': wait },
      })
    }
    case 'unreachable': {
      const wait = seconds(failure.retryAfterMs)
      return new AppError(ErrorCode.UpstreamUnavailable, `${server} cannot be reached. Try again in ${wait} seconds.`, { headers: { 'retry-after': wait } })
    }
    case 'status':
      if (failure.status === 429 || failure.status === 503) {
        const wait = seconds(failure.retryAfterMs)
        return new AppError(ErrorCode.UpstreamUnavailable, `${server} is overloaded (HTTP ${failure.status}). Try again in ${wait} seconds.`, {
          headers: { 'retry-after': wait },
        })
      }
      return new AppError(ErrorCode.UpstreamError, `${server} failed (HTTP ${failure.status ?? 0})`)
    case 'dropped':
      return new AppError(ErrorCode.UpstreamError, `${server} closed the connection without answering`)
    case 'invalid_answer':
      return new AppError(ErrorCode.UpstreamError, `${server} gave an answer infergate cannot read`)
    case 'aborted':
      return errors.clientClosed()
  }
}

/** The error for a caller whose deadline passed while the server was computing its texts. */
export function lateAnswer(model: string): AppError {
  return new AppError(ErrorCode.UpstreamTimeout, `The server of the model '${model}' did not answer in time`)
}
