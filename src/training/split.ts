/**
 * Held-out split of SST-style phrase data by whole sentence.
 *
 * The SST-2 training file holds every labelled phrase of each sentence's parse tree. Holding out
 * random phrases would leak: their sub-phrases and parent sentences stay in training. So the split
 * finds the "roots" (phrases that are not a token span of any other phrase, i.e. the sentences),
 * holds out a share of them, and drops from training the phrases that occur only inside held-out
 * sentences. The held-out set then looks like the dev set: whole, unseen sentences.
 */
import { seededRandom, shuffleInPlace } from './random.js'

/** A tokenised training example. */
export interface TokenizedExample {
  label: number
  tokens: string[]
}

/** The result of {@link splitBySentence}. */
export interface SentenceSplit<T extends TokenizedExample> {
  train: T[]
  heldOut: T[]
  /** Whole sentences among `train` (roots that were not held out). */
  trainRoots: T[]
}

/**
 * Holds out `fraction` of the sentences (roots) of `examples`, chosen with `seed`, and returns
 * the training phrases that remain. With `fraction` 0 everything is training data.
 */
export function splitBySentence<T extends TokenizedExample>(examples: readonly T[], fraction: number, seed: number): SentenceSplit<T> {
  const { isRoot, spans } = phraseSpans(examples)
  const roots = shuffleInPlace(
    examples.map((_, i) => i).filter((i) => isRoot[i] === 1),
    seededRandom(seed),
  )
  const heldCount = Math.round(roots.length * fraction)
  const inTrainSentence = new Uint8Array(examples.length)
  const inHeldSentence = new Uint8Array(examples.length)
  roots.forEach((root, k) => {
    const marks = k < heldCount ? inHeldSentence : inTrainSentence
    marks[root] = 1
    for (const sub of spans[root]!) marks[sub] = 1
  })
  const train = examples.filter((_, i) => inTrainSentence[i] === 1 || inHeldSentence[i] === 0)
  const heldOut = roots
    .slice(0, heldCount)
    .sort((a, b) => a - b)
    .map((i) => examples[i]!)
  const trainRoots = roots
    .slice(heldCount)
    .sort((a, b) => a - b)
    .map((i) => examples[i]!)
  return { train, heldOut, trainRoots }
}

/** For every phrase, the indices of the other phrases that are token spans of it. */
function phraseSpans(examples: readonly TokenizedExample[]): { isRoot: Uint8Array; spans: number[][] } {
  const index = new Map<string, number>()
  examples.forEach((e, i) => index.set(e.tokens.join(' '), i))
  const isRoot = new Uint8Array(examples.length).fill(1)
  const spans = examples.map((e, self) => {
    const found: number[] = []
    const t = e.tokens
    for (let i = 0; i < t.length; i++) {
      let key = ''
      for (let j = i; j < t.length; j++) {
        key = j === i ? t[j]! : `${key} ${t[j]!}`
        const k = index.get(key)
        if (k === undefined || k === self) continue
        found.push(k)
        isRoot[k] = 0
      }
    }
    return found
  })
  return { isRoot, spans }
}
