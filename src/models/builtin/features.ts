/**
 * Feature hashing: how tokens become rows of the model's tables (spec stored in the manifest).
 *
 * Row ranges: words `[0, W)`, character n-grams `[W, W + S)`, word bigrams `[W + S, W + S + B)`,
 * the all-zero padding row `P = W + S + B`, then, with V pretrained words (the model's
 * vocabulary file), their rows `[P + 1, P + 1 + V)` and their negated rows `[P + 1 + V, P + 1 + 2V)`.
 * A token's slots are its word row, its bigram row (the token and the next one, `</s>` after the
 * last), its pretrained row if its word has one, and its sub-word rows, at most `maxSlots`.
 * Tokens inside a negation scope (`negation.ts`) have only their own word row and the negated
 * pretrained row of their word.
 */
import { NegationMarker, type NegationSpec } from './negation.js'
import { fnv1a, fnv1aCodePoints, fnv1aContinue } from './tokenizer.js'

export interface FeatureSpec {
  hash: 'fnv1a-32'
  /** W: word rows are `fnv1a(token) % W`. */
  wordBuckets: number
  /** S: sub-word rows are `W + fnv1a(gram) % S`. */
  subwordBuckets: number
  /** B: bigram rows are `W + S + fnv1a(token + ' ' + next) % B`. */
  bigramBuckets: number
  /** Character n-gram orders of `<token>` used as sub-words, smallest first. */
  subwordMinN: number
  subwordMaxN: number
  /** At most this many slots per token (word, bigram, pretrained, then sub-words in order). */
  maxSlots: number
  /** V: words of the model's vocabulary file, each with a pretrained and a negated row (absent: 0). */
  pretrainedWords?: number
  /** Negation scope marking (absent: none). */
  negation?: NegationSpec
}

/** Word -> line of the model's vocabulary file (its pretrained rows). */
export type Vocabulary = ReadonlyMap<string, number>

const NO_WORDS: Vocabulary = new Map()

/** The {@link Vocabulary} of a vocabulary file's lines. */
export function toVocabulary(words: readonly string[]): Vocabulary {
  return new Map(words.map((word, i) => [word, i]))
}

/** Marks the end of the text in the last token's bigram. */
export const END_TOKEN = '</s>'

/** The padding row `W + S + B`: all zeros in every table. */
export function padRow(spec: FeatureSpec): number {
  return spec.wordBuckets + spec.subwordBuckets + spec.bigramBuckets
}

/** Rows of every table: up to the padding row, then the pretrained and negated rows. */
export function tableRows(spec: FeatureSpec): number {
  return padRow(spec) + 1 + 2 * (spec.pretrainedWords ?? 0)
}

/** Turns a token list into the tokens featurised: negation scopes marked when the spec asks for it. */
export function tokenMarker(spec: FeatureSpec): (tokens: readonly string[]) => readonly string[] {
  if (spec.negation === undefined) return (tokens) => tokens
  const marker = new NegationMarker(spec.negation)
  return (tokens) => marker.mark(tokens)
}

/** The word row of `token`: `fnv1a(token) % W`. */
export function wordRow(token: string, spec: FeatureSpec): number {
  return fnv1a(token) % spec.wordBuckets
}

/** The bigram row of `token` followed by `next`. */
export function bigramRow(token: string, next: string, spec: FeatureSpec): number {
  return spec.wordBuckets + spec.subwordBuckets + (fnv1a(`${token} ${next}`) % spec.bigramBuckets)
}

/** The bigram row of a token whose FNV-1a hash is `tokenHash`, followed by `next` (`undefined`: the end). */
export function bigramRowOfHash(tokenHash: number, next: string | undefined, spec: FeatureSpec): number {
  return spec.wordBuckets + spec.subwordBuckets + (fnv1aContinue(fnv1aContinue(tokenHash, ' '), next ?? END_TOKEN) % spec.bigramBuckets)
}

/**
 * The word row, the pretrained row (when `vocabulary` has the token), then one row per character
 * n-gram of `<token>` (code points; orders `subwordMinN..subwordMaxN`, shorter orders first, left
 * to right, skipping the gram equal to the whole `<token>`), at most `maxSlots - 1` rows (one
 * slot is the bigram's). A negated token (`NOT_word`): its word row and its word's negated row.
 */
export function wordRows(token: string, spec: FeatureSpec, vocabulary: Vocabulary = NO_WORDS): Int32Array {
  const pretrained = padRow(spec) + 1
  const marker = spec.negation?.marker
  if (marker !== undefined && token.startsWith(marker)) {
    const index = vocabulary.get(token.slice(marker.length))
    const row = fnv1a(token) % spec.wordBuckets
    return Int32Array.from(index === undefined ? [row] : [row, pretrained + (spec.pretrainedWords ?? 0) + index])
  }
  const cps = Array.from(`<${token}>`, (ch) => ch.codePointAt(0)!)
  const rows = [fnv1aCodePoints(cps, 1, cps.length - 1) % spec.wordBuckets]
  const index = vocabulary.get(token)
  if (index !== undefined) rows.push(pretrained + index)
  const limit = spec.maxSlots - 1
  for (let n = spec.subwordMinN; n <= spec.subwordMaxN && n < cps.length && rows.length < limit; n++) {
    for (let i = 0; i + n <= cps.length && rows.length < limit; i++) {
      rows.push(spec.wordBuckets + (fnv1aCodePoints(cps, i, i + n) % spec.subwordBuckets))
    }
  }
  return Int32Array.from(rows)
}

/** A token's cached word rows and FNV-1a state (to hash its bigrams without building strings). */
interface TokenEntry {
  rows: Int32Array
  hash: number
}

/** Featurises token lists (marking negation scopes first), remembering up to `cacheSize` distinct tokens. */
export class Featurizer {
  private readonly cache = new Map<string, TokenEntry>()
  private readonly mark: (tokens: readonly string[]) => readonly string[]

  constructor(
    readonly spec: FeatureSpec,
    private readonly vocabulary: Vocabulary = NO_WORDS,
    private readonly cacheSize = 50_000,
  ) {
    this.mark = tokenMarker(spec)
  }

  /** The slots of every token: word row, bigram row, pretrained and sub-word rows. */
  slots(raw: readonly string[]): Int32Array[] {
    const tokens = this.mark(raw)
    return tokens.map((token, t) => {
      const { rows } = this.entry(token)
      const slots = new Int32Array(rows.length + 1)
      slots[0] = rows[0]!
      slots[1] = this.bigram(token, tokens[t + 1])
      slots.set(rows.subarray(1), 2)
      return slots
    })
  }

  /**
   * The int64 data of a [batch, tokens, slots] tensor for `texts` (token lists): tokens and slots
   * are the largest counts in the batch (at least 1 and 2); unused places hold the padding row.
   */
  batch(raw: readonly (readonly string[])[]): { data: BigInt64Array; dims: [number, number, number] } {
    const texts = raw.map(this.mark)
    const entries = texts.map((tokens) => tokens.map((token) => this.entry(token)))
    let length = 1
    let slots = 2
    for (const list of entries) {
      length = Math.max(length, list.length)
      for (const e of list) slots = Math.max(slots, e.rows.length + 1)
    }
    const data = new BigInt64Array(texts.length * length * slots)
    // Rows are small non-negative numbers: write the low 32 bits of each little-endian int64
    // through an Int32Array view (a BigInt per element would cost more than the model).
    const words = new Int32Array(data.buffer)
    const pad = padRow(this.spec)
    for (let i = 0; i < data.length; i++) words[2 * i] = pad
    entries.forEach((list, b) => {
      list.forEach((e, t) => {
        const at = 2 * (b * length + t) * slots
        words[at] = e.rows[0]!
        words[at + 2] = this.bigram(texts[b]![t]!, texts[b]![t + 1], e.hash)
        for (let s = 1; s < e.rows.length; s++) words[at + 2 * (s + 1)] = e.rows[s]!
      })
    })
    return { data, dims: [texts.length, length, slots] }
  }

  private entry(token: string): TokenEntry {
    let entry = this.cache.get(token)
    if (entry === undefined) {
      if (this.cache.size >= this.cacheSize) this.cache.clear()
      entry = { rows: wordRows(token, this.spec, this.vocabulary), hash: fnv1a(token) }
      this.cache.set(token, entry)
    }
    return entry
  }

  private bigram(token: string, next: string | undefined, hash = this.entry(token).hash): number {
    return bigramRowOfHash(hash, next, this.spec)
  }
}
