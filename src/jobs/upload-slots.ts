/**
 * How many job bodies are received at once. A job body may be 32 MB and is held in memory until
 * it is parsed: without a bound, one key opening a hundred uploads would hold gigabytes. A key
 * may send {@link PER_KEY} bodies at once and the server receives {@link TOTAL} in all; past
 * either the request is refused before its body is read (and costs nothing).
 */
import { AppError, ErrorCode } from '../errors.js'

const PER_KEY = 2
const TOTAL = 8

export class UploadSlots {
  private readonly byKey = new Map<string, number>()
  private total = 0

  /** Runs `receive` in one of `keyId`'s slots, or throws when there is none. */
  async run<T>(keyId: string, receive: () => Promise<T>): Promise<T> {
    const mine = this.byKey.get(keyId) ?? 0
    if (mine >= PER_KEY) {
      throw new AppError(ErrorCode.TooManyJobs, `This key is already sending ${PER_KEY} job bodies; send the next once one is accepted`, {
        headers: { 'retry-after': '1' },
      })
    }
    if (this.total >= TOTAL) {
      throw new AppError(ErrorCode.ServerBusy, 'The server is receiving as many job bodies as it takes at once; try again shortly', {
        headers: { 'retry-after': '1' },
      })
    }
    this.byKey.set(keyId, mine + 1)
    this.total++
    try {
      return await receive()
    } finally {
      this.total--
      const left = this.byKey.get(keyId)! - 1
      if (left === 0) this.byKey.delete(keyId)
      else this.byKey.set(keyId, left)
    }
  }
}
