/**
 * The reference service's `sentiment` field: present for two-class sentiment models only
 * (labels `negative`/`positive` in any case, e.g. DistilBERT SST-2's `NEGATIVE`/`POSITIVE`),
 * always lower-case as its clients expect.
 */
export function isSentimentModel(labels: readonly string[]): boolean {
  const lower = new Set(labels.map((label) => label.toLowerCase()))
  return labels.length === 2 && lower.has('positive') && lower.has('negative')
}

/** `{sentiment}` for a sentiment model's answer, `{}` otherwise. */
export function sentimentField(labels: readonly string[], label: string): { sentiment?: string } {
  return isSentimentModel(labels) ? { sentiment: label.toLowerCase() } : {}
}
