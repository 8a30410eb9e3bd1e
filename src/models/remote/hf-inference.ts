/**
 * `hf-inference`: Hugging Face classifiers served by Text Embeddings Inference (`server=tei`,
 * `POST /predict`) or by the Inference Toolkit / Inference Endpoints (`server=toolkit`). Both
 * answer a batch with one list of `{label, score}` per text, every label scored:
 * `[[{"label": "POSITIVE", "score": 0.99}, {"label": "NEGATIVE", "score": 0.01}], ...]`.
 *
 * They differ in how a batch is asked for. TEI reads `["a", "b"]` as one *pair* of texts (for
 * cross-encoders), so a batch is `[["a"], ["b"]]`, with `truncate: true` so that a long text is
 * cut to the model's length rather than refused. The toolkit's pipeline takes `["a", "b"]`
 * and, with `top_k: null`, returns every label's score instead of the best one only.
 */
import type { Classification } from '../types.js'
import type { Call, Protocol } from './protocol.js'
import { PROBE_TEXT, ProbeMismatch, invalid, isRecord, oneEach, parseAnswer, probability } from './protocol.js'

export class HfInferenceProtocol implements Protocol {
  readonly takesBatches = true
  labels: readonly string[]
  private readonly path: string

  constructor(
    url: string,
    private readonly server: 'tei' | 'toolkit',
    labels?: readonly string[],
  ) {
    this.path = new URL(url).pathname
    this.labels = labels ?? []
  }

  async classify(texts: readonly string[], call: Call): Promise<Classification[]> {
    const json = this.server === 'tei' ? { inputs: texts.map((text) => [text]), truncate: true } : { inputs: texts, parameters: { top_k: null } }
    const body = parseAnswer(await call({ method: 'POST', path: this.path, json }))
    if (!Array.isArray(body)) throw invalid('the answer is not a list')
    return oneEach(body, texts).map((row) => this.readRow(row))
  }

  private readRow(row: unknown): Classification {
    if (!Array.isArray(row) || row.length === 0) throw invalid('a text without a list of {label, score}')
    const scores: Record<string, number> = {}
    for (const entry of row) {
      if (!isRecord(entry) || typeof entry.label !== 'string') throw invalid('an entry without a "label"')
      if (Object.hasOwn(scores, entry.label)) throw invalid('a label given twice')
      scores[entry.label] = probability(entry.score, `the score of "${entry.label}"`)
    }
    const given = Object.keys(scores)
    if (this.labels.length > 0 && (given.length !== this.labels.length || !this.labels.every((label) => Object.hasOwn(scores, label)))) {
      throw invalid('labels other than the model’s')
    }
    const label = given.reduce((best, each) => (scores[each]! > scores[best]! ? each : best))
    // Keys in the model's label order, as local models answer.
    const ordered = this.labels.length > 0 ? Object.fromEntries(this.labels.map((each) => [each, scores[each]!])) : scores
    return { label, confidence: scores[label]!, scores: ordered }
  }

  /** Classifies one text; on the first probe, learns the labels from it when none were given. */
  async probe(call: Call): Promise<void> {
    const known = this.labels
    this.labels = []
    let result: Classification
    try {
      ;[result] = (await this.classify([PROBE_TEXT], call)) as [Classification]
    } finally {
      this.labels = known
    }
    const seen = Object.keys(result.scores).sort()
    if (known.length === 0) {
      if (seen.length < 2) throw new ProbeMismatch(`the server scored ${seen.length} label(s); a classifier scores two or more (does it return every label?)`)
      this.labels = seen
    } else if (seen.length !== known.length || !known.every((label) => seen.includes(label))) {
      throw new ProbeMismatch(`the server's labels (${seen.join(', ')}) are not those given in &labels (${known.join(', ')})`)
    }
  }
}
