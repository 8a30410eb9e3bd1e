/**
 * The token usage an upstream reports in OpenAI's `usage` object: `prompt_tokens` and
 * `completion_tokens` (embeddings report only `prompt_tokens`). Anything else — missing, not
 * whole numbers, negative — counts as not reported, and the reservation is then charged in full.
 */

export interface Usage {
  promptTokens: number
  completionTokens: number
}

const count = (value: unknown): number | null => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null)

/** The usage in an upstream answer (or stream chunk), or null when it reports none. */
export function usageOf(answer: { usage?: unknown } | null | undefined): Usage | null {
  const usage = answer?.usage
  if (usage === null || typeof usage !== 'object') return null
  const { prompt_tokens: prompt, completion_tokens: completion } = usage as Record<string, unknown>
  const promptTokens = count(prompt)
  if (promptTokens === null) return null
  const completionTokens = completion === undefined ? 0 : count(completion)
  if (completionTokens === null) return null
  return { promptTokens, completionTokens }
}

/** Tokens of a usage, as charged. */
export function usageTotal(usage: Usage): number {
  return usage.promptTokens + usage.completionTokens
}
