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
 *
 * The BPE tokenizers run on the event loop, so they get at most {@link EXACT_BYTES} bytes of
 * plain ASCII text per request; any other text is counted in bytes, which is never fewer than
 * its tokens either. js-tiktoken was measured here at ~2 s per MB of ASCII without spaces and
 * up to ~50 s per MB of CJK text (its merges grow with the length of a word): a key sending
 * such prompts would have stalled every other request for seconds (`.scratch/tk2.mts`).
 */
import { Tiktoken } from 'js-tiktoken/lite'

export const TOKENIZERS = ['bytes', 'cl100k_base', 'o200k_base'] as const
export type TokenizerName = (typeof TOKENIZERS)[number]

/** Counts the tokens of one text. */
export type TextCounter = (text: string) => number

const PER_MESSAGE = 4
const REPLY_PRIMING = 3

const countBytes: TextCounter = (text) => Buffer.byteLength(text, 'utf8')

/** Bytes of one request's text a BPE tokenizer may count exactly (a few ms at worst). */
const EXACT_BYTES = 4096

/** `count` for one request: exact for its first {@link EXACT_BYTES} bytes of ASCII text, bytes beyond. */
function withinBudget(count: TextCounter): TextCounter {
  if (count === countBytes) return count
  let left = EXACT_BYTES
  return (text) => {
    const bytes = countBytes(text)
    // As many bytes as UTF-16 units: plain ASCII.
    if (bytes > left || bytes !== text.length) return bytes
    left -= bytes
    return count(text)
  }
}

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
export function chatPromptTokens(
  body: { messages: readonly unknown[]; tools?: unknown; functions?: unknown },
  counter: TextCounter,
): number {
  const count = withinBudget(counter)
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
  return countValue(input, withinBudget(count))
}

/** How many prompts a completions `prompt` holds (each gets its own `n` completions). */
export function promptCount(prompt: unknown): number {
  if (!Array.isArray(prompt) || prompt.length === 0) return 1
  // An array of token ids is one prompt; an array of strings or of id arrays is several.
  return typeof prompt[0] === 'number' ? 1 : prompt.length
}
