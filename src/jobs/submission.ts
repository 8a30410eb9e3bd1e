/**
 * A validated `POST /v1/jobs` body. A small one holds its texts here; a large one leaves them on
 * the job-body worker that parsed them (`body-channel.ts`), and the store fetches them a batch
 * at a time ({@link JobTexts.slice}): the main thread never holds a large job's texts at once,
 * in any form, so accepting one does not grow its memory enough to set off a full collection.
 */
import { ValidatedBody } from '../http/validated-body.js'

/** What the job store needs of a job's texts. */
export interface JobTexts {
  readonly count: number
  /** UTF-8 bytes of all texts together. */
  readonly bytes: number
  /** Texts [start, end). */
  slice(start: number, end: number): Promise<string[]>
}

/** What is known of a valid body's texts without holding them. */
export interface TextsSummary {
  model: string | undefined
  count: number
  /** Sum of the texts' lengths in UTF-16 code units (what `text.length` counts). */
  chars: number
  bytes: number
}

export function summarize(texts: readonly string[], model: string | undefined): TextsSummary {
  let chars = 0
  let bytes = 0
  for (const text of texts) {
    chars += text.length
    bytes += Buffer.byteLength(text, 'utf8')
  }
  return { model, count: texts.length, chars, bytes }
}

/** A validated job body, wherever its texts are. */
export abstract class JobSubmission extends ValidatedBody implements JobTexts {
  readonly model: string | undefined
  readonly count: number
  readonly chars: number
  readonly bytes: number

  constructor(summary: TextsSummary) {
    super()
    this.model = summary.model
    this.count = summary.count
    this.chars = summary.chars
    this.bytes = summary.bytes
  }

  private released = false
  private storing = false

  abstract slice(start: number, end: number): Promise<string[]>

  /** Lets go of the texts (where they are held); called once. */
  protected abstract drop(): void

  /** Lets go of the texts once they are stored; safe to call twice. */
  release(): void {
    if (this.released) return
    this.released = true
    this.drop()
  }

  /**
   * The store is about to read the texts: from now on only {@link release} lets them go, so a
   * job whose client leaves while it is being stored is still stored whole (and runs). False
   * when the texts were let go already: the request finished first.
   */
  claimForStore(): boolean {
    this.storing = !this.released
    return this.storing
  }

  /** The request finished (answered or abandoned): lets go of the texts unless the store is reading them. */
  releaseUnlessStoring(): void {
    if (!this.storing) this.release()
  }
}

/** A small body's texts, parsed on the main thread. */
export class HeldSubmission extends JobSubmission {
  constructor(
    private readonly texts: readonly string[],
    model: string | undefined,
  ) {
    super(summarize(texts, model))
  }

  slice(start: number, end: number): Promise<string[]> {
    return Promise.resolve(this.texts.slice(start, end))
  }

  protected drop(): void {}
}
