/**
 * A job's texts as the body worker hands them over (`body-worker.ts`): one UTF-8 buffer and
 * where each text ends, moved (not copied) from the worker. The main thread never holds the
 * texts of a large job as strings at once: the store takes them a batch at a time
 * ({@link JobSubmission.slice}), so decoding costs the event loop next to nothing per turn.
 */
import { ValidatedBody } from '../http/validated-body.js'

/** What the job store needs of a job's texts. */
export interface JobTexts {
  readonly count: number
  /** UTF-8 bytes of all texts together. */
  readonly bytes: number
  /** Texts [start, end) as strings. */
  slice(start: number, end: number): string[]
}

/** What the worker sends back for a body that passed validation. */
export interface PackedBody {
  model: string | undefined
  /** Sum of the texts' lengths in UTF-16 code units (what `text.length` counts). */
  chars: number
  utf8: Uint8Array
  /** `ends[i]`: offset in `utf8` just past text i. */
  ends: Uint32Array
}

/** A validated `POST /v1/jobs` body. */
export class JobSubmission extends ValidatedBody implements JobTexts {
  readonly model: string | undefined
  readonly chars: number
  private readonly utf8: Buffer
  private readonly ends: Uint32Array

  constructor(packed: PackedBody) {
    super()
    this.model = packed.model
    this.chars = packed.chars
    this.utf8 = Buffer.from(packed.utf8.buffer, packed.utf8.byteOffset, packed.utf8.byteLength)
    this.ends = packed.ends
  }

  get count(): number {
    return this.ends.length
  }

  get bytes(): number {
    return this.utf8.length
  }

  slice(start: number, end: number): string[] {
    const texts: string[] = []
    for (let i = start; i < Math.min(end, this.count); i++) {
      texts.push(this.utf8.toString('utf8', i === 0 ? 0 : this.ends[i - 1], this.ends[i]))
    }
    return texts
  }
}

/** Packs validated texts for the move to the main thread (a buffer of its own, so it can be transferred). */
export function packTexts(texts: readonly string[], model: string | undefined): PackedBody {
  const ends = new Uint32Array(texts.length)
  let offset = 0
  let chars = 0
  texts.forEach((text, i) => {
    offset += Buffer.byteLength(text, 'utf8')
    ends[i] = offset
    chars += text.length
  })
  // Text by text, not joined: two lone surrogates of neighbouring texts would join into one character.
  const utf8 = Buffer.allocUnsafeSlow(offset)
  texts.forEach((text, i) => utf8.write(text, i === 0 ? 0 : ends[i - 1]!, 'utf8'))
  return { model, chars, utf8, ends }
}
