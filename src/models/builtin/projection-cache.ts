/**
 * The built-in engine's per-token cache: each distinct token's projections through every
 * convolution tap live in one shared arena (a slot of `stride` numbers), so the pooling loop
 * reads a single typed array and nothing is copied per text. Slot 0 is all zeros: the padding.
 * When full, the oldest token gives its slot to the new one, unless the current text uses it.
 */

export class ProjectionCache {
  /** `(size + 1) * stride` numbers: slot s holds the projections of one token. */
  readonly arena: Float32Array
  /** FNV-1a hash of each slot's token (to hash its bigrams without building strings). */
  readonly hash: Uint32Array
  /** Each slot's word row in the bag table (a compact index, -1 when the row is zero). */
  readonly bagSlot: Int32Array
  private readonly slots = new Map<string, number>()
  private readonly tokenOf: (string | undefined)[]
  /** The text that last used each slot: a slot the current text uses is never given away. */
  private readonly usedIn: Float64Array
  private text = 1
  private next = 1

  /** `arena`, when given, must hold `(size + 1) * stride` zeros (e.g. WebAssembly memory). */
  constructor(
    readonly size: number,
    readonly stride: number,
    arena?: Float32Array,
  ) {
    if (arena && arena.length !== (size + 1) * stride) throw new Error(`the arena holds ${arena.length} numbers, not ${(size + 1) * stride}`)
    this.arena = arena ?? new Float32Array((size + 1) * stride)
    this.hash = new Uint32Array(size + 1)
    this.bagSlot = new Int32Array(size + 1).fill(-1)
    this.tokenOf = new Array<string | undefined>(size + 1)
    this.usedIn = new Float64Array(size + 1)
  }

  /** Starts a new text: the slots of the previous one may be given away again. */
  startText(): void {
    this.text += 1
  }

  /**
   * The slot of `token`, filled by `fill(token, slot)` the first time it is seen. A text (since
   * {@link startText}) of up to `size` distinct tokens never evicts its own tokens: slots are
   * reused oldest first, skipping those the text already holds (a token found in the cache
   * keeps its old slot, which would otherwise be the next to go).
   */
  slotOf(token: string, fill: (token: string, slot: number) => void): number {
    const known = this.slots.get(token)
    if (known !== undefined) {
      this.usedIn[known] = this.text
      return known
    }
    let slot = this.next
    while (this.usedIn[slot] === this.text) slot = slot === this.size ? 1 : slot + 1
    this.next = slot === this.size ? 1 : slot + 1
    this.usedIn[slot] = this.text
    const previous = this.tokenOf[slot]
    if (previous !== undefined) this.slots.delete(previous)
    this.tokenOf[slot] = token
    this.slots.set(token, slot)
    fill(token, slot)
    return slot
  }

  /** The projections of `slot`, to write. */
  view(slot: number): Float32Array {
    return this.arena.subarray(slot * this.stride, (slot + 1) * this.stride)
  }
}
