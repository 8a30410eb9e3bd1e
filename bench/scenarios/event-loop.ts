/**
 * Does serving a Hugging Face model ever stall the event loop? A generated WordPiece model (the
 * ONNX graph is trivial, so tokenising is most of the work) classifies batches of 64 texts of
 * 100 and of 10,000 characters (the default `--max-text-length`) while `monitorEventLoopDelay`
 * samples the main thread every millisecond. For comparison: the time the same batch takes to
 * tokenise on this thread, which is how long each batch stalled every request when the main
 * thread tokenised (before the model's worker did).
 */
import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { readHfConfig } from '../../src/models/hf/config.js'
import { TokenEncoder } from '../../src/models/hf/encoder.js'
import { loadHfModel } from '../../src/models/hf/load.js'
import { writeTinyHfModel } from '../../test/fixtures/hf-model.js'
import { median } from '../lib/load.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'

export interface EventLoopOptions {
  log: (line: string) => void
}

const WORDS = 'the movie was good bad plot great awful acting film story'.split(' ')
const BATCHES = 20
const ROUNDS = 5

function textsOf(chars: number): string[] {
  let text = ''
  for (let i = 0; text.length < chars; i++) text += `${WORDS[(i * 7) % WORDS.length]} `
  return Array.from({ length: 64 }, (_, i) => `${text.slice(0, chars - 4)}${i}`.slice(0, chars))
}

interface Row {
  chars: number
  maxDelayMs: number
  p99DelayMs: number
  batchMs: number
  tokenizeHereMs: number
}

async function measureLength(dir: string, chars: number): Promise<Row> {
  const texts = textsOf(chars)
  const classifier = await loadHfModel(dir, { name: 'event-loop' })
  const config = await readHfConfig(dir)
  const encoder = new TokenEncoder(config.tokenizer, config.tokenizerConfig, config.maxLength, config.padTokenId)
  const rounds: Omit<Row, 'chars'>[] = []
  try {
    await classifier.classifyBatch(texts)
    for (let r = 0; r < ROUNDS; r++) {
      const histogram = monitorEventLoopDelay({ resolution: 1 })
      histogram.enable()
      const start = performance.now()
      for (let b = 0; b < BATCHES; b++) await classifier.classifyBatch(texts)
      const batchMs = (performance.now() - start) / BATCHES
      histogram.disable()
      const tokenizeStart = performance.now()
      encoder.encodeBatch(texts)
      rounds.push({
        maxDelayMs: histogram.max / 1e6,
        p99DelayMs: histogram.percentile(99) / 1e6,
        batchMs,
        tokenizeHereMs: performance.now() - tokenizeStart,
      })
    }
  } finally {
    await classifier.close()
  }
  const med = (key: keyof Omit<Row, 'chars'>) => median(rounds.map((round) => round[key]))
  return {
    chars,
    maxDelayMs: med('maxDelayMs'),
    p99DelayMs: med('p99DelayMs'),
    batchMs: med('batchMs'),
    tokenizeHereMs: med('tokenizeHereMs'),
  }
}

export async function runEventLoop(options: EventLoopOptions): Promise<ScenarioReport> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-loop-'))
  try {
    const model = writeTinyHfModel(path.join(dir, 'wordpiece'), { words: WORDS, labels: ['negative', 'positive'], maxLength: 512 })
    const rows: Row[] = []
    for (const chars of [100, 10_000]) {
      const row = await measureLength(model.dir, chars)
      options.log(`  64 × ${chars} chars: loop delay max ${fmt.ms(row.maxDelayMs)} ms (tokenising here: ${fmt.ms(row.tokenizeHereMs)} ms)`)
      rows.push(row)
    }
    const table = markdownTable(
      ['texts per batch', 'event-loop delay, max (ms)', 'p99 (ms)', 'ms per batch', 'tokenising the batch on the main thread (ms)'],
      rows.map((r) => [
        `64 × ${fmt.int(r.chars)} chars`,
        fmt.ms(r.maxDelayMs),
        fmt.ms(r.p99DelayMs),
        fmt.ms(r.batchMs),
        fmt.ms(r.tokenizeHereMs),
      ]),
    )
    return {
      id: 'event-loop',
      title: 'Event loop while a Hugging Face model classifies long texts',
      markdown: `${table}\n\n- ${BATCHES} batches per round, median of ${ROUNDS} rounds; delay sampled every 1 ms by \`monitorEventLoopDelay\` (its floor is ~1 ms). The model's worker thread tokenises, so the main thread's delay stays near the floor; the last column is what it would stall for if it tokenised itself.`,
      data: rows,
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
