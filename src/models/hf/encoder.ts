/**
 * Turns texts into the padded integer tensors a transformer classifier reads, with the model's
 * own tokenizer (Hugging Face tokenizers.js reads `tokenizer.json`: WordPiece, BPE, Unigram).
 *
 * Long texts are truncated to the model's length the way `transformers` does for one sequence:
 * content tokens are cut, the special tokens around them ([CLS] … [SEP], <s> … </s>) are kept.
 * A batch is padded to its longest member; padding is masked out by `attention_mask`.
 */
import { Tokenizer } from '@huggingface/tokenizers'

/** The part of tokenizers.js used here (its bundled typings do not resolve under NodeNext). */
interface HfTokenizer {
  encode(text: string, options: { add_special_tokens: boolean; return_token_type_ids?: boolean }): { ids: number[]; token_type_ids?: number[] }
}
const TokenizerClass = Tokenizer as unknown as new (tokenizerJson: object, tokenizerConfig: object) => HfTokenizer

export interface EncodedBatch {
  batch: number
  length: number
  inputIds: BigInt64Array
  attentionMask: BigInt64Array
  tokenTypeIds: BigInt64Array
}

interface Encoded {
  ids: number[]
  typeIds: number[]
}

export class TokenEncoder {
  private readonly tokenizer: HfTokenizer
  /** Special tokens the tokenizer puts before and after the content of one sequence. */
  private readonly head: number
  private readonly tail: number

  constructor(
    tokenizerJson: Record<string, unknown>,
    tokenizerConfig: Record<string, unknown>,
    readonly maxLength: number,
    private readonly padId: number,
  ) {
    this.tokenizer = new TokenizerClass(tokenizerJson, tokenizerConfig)
    ;({ head: this.head, tail: this.tail } = this.specialLayout())
    if (this.head + this.tail >= maxLength) throw new Error(`a maximum length of ${maxLength} leaves no room for text`)
  }

  // Encode a probe with and without special tokens to see where the specials go.
  private specialLayout(): { head: number; tail: number } {
    const plain: number[] = this.tokenizer.encode('a', { add_special_tokens: false }).ids
    const full: number[] = this.tokenizer.encode('a', { add_special_tokens: true }).ids
    for (let head = 0; head + plain.length <= full.length; head++) {
      if (plain.every((id, i) => full[head + i] === id)) return { head, tail: full.length - head - plain.length }
    }
    return { head: 0, tail: 0 }
  }

  /** One text's ids and token type ids, truncated to the maximum length. */
  encode(text: string): Encoded {
    const encoding = this.tokenizer.encode(text, { add_special_tokens: true, return_token_type_ids: true })
    const ids = encoding.ids
    const typeIds = encoding.token_type_ids ?? ids.map(() => 0)
    if (ids.length <= this.maxLength) return { ids, typeIds }
    const keep = this.maxLength - this.tail
    return {
      ids: [...ids.slice(0, keep), ...ids.slice(ids.length - this.tail)],
      typeIds: [...typeIds.slice(0, keep), ...typeIds.slice(typeIds.length - this.tail)],
    }
  }

  /** The texts as one batch padded to its longest member. */
  encodeBatch(texts: readonly string[]): EncodedBatch {
    const encoded = texts.map((text) => this.encode(text))
    const length = Math.max(1, ...encoded.map((e) => e.ids.length))
    const size = texts.length * length
    const inputIds = new BigInt64Array(size).fill(BigInt(this.padId))
    const attentionMask = new BigInt64Array(size)
    const tokenTypeIds = new BigInt64Array(size)
    encoded.forEach((e, row) => {
      for (let i = 0; i < e.ids.length; i++) {
        inputIds[row * length + i] = BigInt(e.ids[i]!)
        attentionMask[row * length + i] = 1n
        tokenTypeIds[row * length + i] = BigInt(e.typeIds[i] ?? 0)
      }
    })
    return { batch: texts.length, length, inputIds, attentionMask, tokenTypeIds }
  }
}
