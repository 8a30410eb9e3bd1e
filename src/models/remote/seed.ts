/**
 * `seed`: the classic FastAPI `/predict` service (`../shared/peers/fastapi-seed`):
 * `POST URL?text=...` answers `{"sentiment": "positive"|"negative", "confidence": 0..1, ...}`.
 * One text per call; `confidence` is optional (a service without it is read as certain).
 */
import type { Classification } from '../types.js'
import type { Call, Protocol } from './protocol.js'
import { PROBE_TEXT, certain, invalid, isRecord, parseAnswer, probability } from './protocol.js'

const LABELS = ['negative', 'positive'] as const

export class SeedProtocol implements Protocol {
  readonly takesBatches = false
  readonly labels = LABELS
  private readonly path: string

  constructor(url: string) {
    const parsed = new URL(url)
    this.path = parsed.pathname
  }

  async classify(texts: readonly string[], call: Call): Promise<Classification[]> {
    if (texts.length !== 1) throw new Error('the seed protocol takes one text per call')
    // URLSearchParams writes a lone surrogate as U+FFFD where encodeURIComponent would throw.
    const query = new URLSearchParams({ text: texts[0]! }).toString()
    const body = parseAnswer(await call({ method: 'POST', path: `${this.path}?${query}` }))
    if (!isRecord(body)) throw invalid('the answer is not a JSON object')
    const sentiment = typeof body.sentiment === 'string' ? body.sentiment.toLowerCase() : undefined
    if (sentiment !== 'negative' && sentiment !== 'positive') throw invalid('no "sentiment" of positive or negative')
    const confidence = body.confidence === undefined || body.confidence === null ? 1 : probability(body.confidence, '"confidence"')
    return [certain(sentiment, LABELS, confidence)]
  }

  async probe(call: Call): Promise<void> {
    await this.classify([PROBE_TEXT], call)
  }
}
