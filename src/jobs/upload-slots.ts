/**
 * How many bytes of job bodies are being received at once. A job body may be 32 MB and is held
 * in memory until it is parsed: without a bound, one key opening a hundred uploads would hold
 * gigabytes. A key may have {@link PER_KEY} bodies' worth in flight (`--max-job-body-size`
 * each) and the server {@link TOTAL}; an upload reserves its Content-Length (the size limit
 * when it sends none), so small jobs in parallel are never held back. Past either the request
 * is refused before its body is read, and costs nothing.
 */
import { AppError, ErrorCode } from '../errors.js'

const PER_KEY = 2
const TOTAL = 8

export class UploadSlots {
  private readonly byKey = new Map<string, number>()
  private total = 0

  /** `maxBody`: the largest body an upload may send. */
  constructor(private readonly maxBody: number) {}

  /** Runs `receive` with `declared` bytes (NaN: unknown) reserved for `keyId`, or throws when they do not fit. */
  async run<T>(keyId: string, declared: number, receive: () => Promise<T>): Promise<T> {
    const bytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, this.maxBody) : this.maxBody
    const mine = this.byKey.get(keyId) ?? 0
    if (mine + bytes > PER_KEY * this.maxBody) {
      throw new AppError(
        ErrorCode.TooManyJobs,
        `This key is already sending ${PER_KEY} job bodies' worth of bytes; send the next once one is accepted`,
        {
          headers: { 'retry-after': '1' },
        },
      )
    }
    if (this.total + bytes > TOTAL * this.maxBody) {
      throw new AppError(ErrorCode.ServerBusy, 'The server is receiving as many job bodies as it takes at once; try again shortly', {
        headers: { 'retry-after': '1' },
      })
    }
    this.byKey.set(keyId, mine + bytes)
    this.total += bytes
    try {
      return await receive()
    } finally {
      this.total -= bytes
      const left = this.byKey.get(keyId)! - bytes
      if (left === 0) this.byKey.delete(keyId)
      else this.byKey.set(keyId, left)
    }
  }
}
