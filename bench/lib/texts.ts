/** The request mix: sentences from SST-2 dev when the shared data is here, a fixed list otherwise. */
import fs from 'node:fs'
import path from 'node:path'
import { SHARED_DIR } from './paths.js'

const FALLBACK = [
  'a wonderful , moving film with brilliant performances',
  'a dull , tedious mess that overstays its welcome',
  "the acting is fine but the script is n't",
  'one of the best movies of the year',
  'i would not recommend it to anyone',
  'charming , funny and surprisingly touching',
  'an uneven but ultimately rewarding experience',
  'painfully boring from start to finish',
]

/** Up to `count` sentences. */
export function benchTexts(count = 32): string[] {
  const dev = path.join(SHARED_DIR, 'datasets', 'sst2', 'dev.tsv')
  if (!fs.existsSync(dev)) return FALLBACK
  return fs
    .readFileSync(dev, 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .slice(0, count)
    .map((line) => line.split('\t')[1]!)
}

/** `/predict?text=...` paths for the texts. */
export function predictPaths(texts = benchTexts()): string[] {
  return texts.map((text) => `/predict?text=${encodeURIComponent(text)}`)
}
