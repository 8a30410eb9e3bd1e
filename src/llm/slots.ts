/**
 * Calls in flight to one LLM server (`--llm …?max-concurrency=N&key-concurrency=M`), counted by
 * this instance: at most N at once, and at most M of them for any one key, so that one key's
 * long generations cannot take every slot and starve the others. A call takes its slot before
 * it is charged and gives it back when its request finishes (answered, failed or abandoned).
 */

/** Why a slot was refused: the server has none left, or the key holds its share. */
export type SlotRefusal = 'server' | 'key'

export class LlmSlots {
  private inFlight = 0
  private readonly byKey = new Map<string, number>()

  constructor(
    /** Calls in flight at once, all keys together. */
    readonly max: number,
    /** Calls in flight at once for one key. */
    readonly perKey: number,
  ) {}

  /** Takes a slot for `keyId`; returns the function that gives it back (once), or why it was refused. */
  take(keyId: string): { release: () => void } | { refused: SlotRefusal } {
    const held = this.byKey.get(keyId) ?? 0
    if (held >= this.perKey) return { refused: 'key' }
    if (this.inFlight >= this.max) return { refused: 'server' }
    this.inFlight += 1
    this.byKey.set(keyId, held + 1)
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        this.inFlight -= 1
        const left = (this.byKey.get(keyId) ?? 1) - 1
        if (left === 0) this.byKey.delete(keyId)
        else this.byKey.set(keyId, left)
      },
    }
  }

  /** Calls in flight now (the `infergate_llm_calls_in_flight` gauge). */
  get active(): number {
    return this.inFlight
  }
}
