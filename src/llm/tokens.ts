/**
 * Counting a request's prompt tokens before the call, to reserve them (`budget.ts`).
 *
 * - `cl100k_base`, `o200k_base`: OpenAI's tokenizers (js-tiktoken), for GPT-family models, plus
 *   OpenAI's published per-message overhead (4 tokens a message, 3 to prime the answer).
 * - `bytes` (the default, for every other family: Llama, Qwen, Mistral…): one token per UTF-8
 *   byte, plus the same overhead. Byte-level BPE and SentencePiece-with-byte-fallback
 *   tokenizers never make a token of less than one byte, so this never counts too few (only the
 *   chat template's special tokens are not bytes: the per-message overhead covers them). It
 *   counts too many, often 3–4×: the reservation is settled to the upstream's reported usage.
 *
 * Every string of the messages (and of `tools`/`functions`) is counted: contents, names, tool
 * call arguments, image URLs; token-id arrays (`prompt: [1, 2, 3]`) count one per id.
 */
import { Tiktoken } from 'js-tiktoken/lite'

export const TOKENIZERS = ['bytes', 'cl100k_base', 'o200k_base'] as const
export type TokenizerName = (typeof TOKENIZERS)[number]

/** Counts the tokens of one text. */
export type TextCounter = (text: string) => number

const PER_MESSAGE = 4
const REPLY_PRIMING = 3

const countBytes: TextCounter = (text) => Buffer.byteLength(text, 'utf8')

/** The counter of a tokenizer; the BPE ranks are loaded on first use (they are large). */
export async function textCounter(name: TokenizerName): Promise<TextCounter> {
  if (name === 'bytes') return countBytes
  const ranks =
    name === 'cl100k_base'
      ? (await import('js-tiktoken/ranks/cl100k_base')).default
      : (await import('js-tiktoken/ranks/o200k_base')).default
  const encoder = new Tiktoken(ranks)
  return (text) => encoder.encode(text, [], []).length
}

/** Tokens of every string in a JSON value; numbers in arrays count as token ids (one each). */
function countValue(value: unknown, count: TextCounter): number {
  if (typeof value === 'string') return count(value)
  if (typeof value === 'number') return 1
  if (Array.isArray(value)) return value.reduce((sum: number, item) => sum + countValue(item, count), 0)
  if (value !== null && typeof value === 'object')
    return Object.values(value).reduce((sum: number, item) => sum + countValue(item, count), 0)
  return 0
}

/** Prompt tokens of a chat request: its messages and tool definitions, with the per-message overhead. */
export function chatPromptTokens(body: { messages: readonly unknown[]; tools?: unknown; functions?: unknown }, count: TextCounter): number {
  return (
    body.messages.length * PER_MESSAGE +
    REPLY_PRIMING +
    countValue(body.messages, count) +
    countValue(body.tools, count) +
    countValue(body.functions, count)
  )
}

/** Prompt tokens of a completions prompt or an embeddings input (text, texts, or token ids). */
export function inputTokens(input: unknown, count: TextCounter): number {
  return countValue(input, count)
}

/** How many prompts a completions `prompt` holds (each gets its own `n` completions). */
export function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1
  // An array of token ids is one prompt; an array of strings or of id arrays is several.
  return typeof prompt[0] === 'number' ? 1 : prompt.length
}
