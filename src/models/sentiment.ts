/**
 * The reference service's `sentiment` field: present for two-class sentiment models only
 * (labels `negative`/`positive` in any case, e.g. DistilBERT SST-2's `NEGATIVE`/`POSITIVE`),
 * always lower-case as its clients expect.
 */
export function isSentimentModel(labels: readonly string[]): boolean {
  const lower = new Set(labels.map((label) => label.toLowerCase()))
  return labels.length === 2 && lower.has('positive') && lower.has('negative')
}

// Asked for every answer: worked out once per label list (a model's labels never change).
const known = new WeakMap<readonly string[], boolean>()

/** `{sentiment}` for a sentiment model's answer, `{}` otherwise. */
export function sentimentField(labels: readonly string[], label: string): { sentiment?: string } {
  let sentiment = known.get(labels)
  if (sentiment === undefined) known.set(labels, (sentiment = isSentimentModel(labels)))
  return sentiment ? { sentiment: label.toLowerCase() } : {}
}
