/**
 * Trains one network of the ensemble. Runs in a worker thread (started by `train.ts` with this
 * file as entry point) or inline; the result depends only on the data and the seed.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { workerEntry } from '../lib/worker-entry.js'
import { CnnModel, type CnnHyperParameters, type CnnWeights, type PretrainedRows } from './cnn.js'
import type { EncodedExample } from './dataset.js'
import { teacherShare } from './contrast.js'
import { seededRandom, shuffleInPlace } from './random.js'

/** Examples flattened into a few typed arrays, cheap to send to a worker. */
export interface PackedExamples {
  labels: Uint8Array
  /** Example `i` has tokens `tokens[offsets[i] .. offsets[i + 1])`. */
  offsets: Int32Array
  tokens: Int32Array
  /** With the contrast rule: each example's clause-B start (-1: none). */
  clauses?: Int32Array
}

/** Everything one member needs. */
export interface MemberJob {
  member: number
  seed: number
  /** Whether the member reads sub-word rows (else only word rows). */
  subwords: boolean
  rows: number
  /** Frozen pretrained vectors behind the table rows from `pretrained.start` on, if any. */
  pretrained?: PretrainedRows | undefined
  hyperParameters: CnnHyperParameters
  /** Token id `t` has table rows `rowData[rowOffsets[t] .. rowOffsets[t + 1])`. */
  rowOffsets: Int32Array
  rowData: Int32Array
  train: PackedExamples
  trainRoots: PackedExamples
  heldOut: PackedExamples
}

/** Progress of one member after an epoch. */
export interface MemberProgress {
  member: number
  phase: 'phrases' | 'sentences'
  epoch: number
  epochs: number
  meanLoss: number
  /** Held-out accuracy after the epoch, or NaN without a held-out set. */
  heldOutAccuracy: number
}

/** The trained member: its weights and its logits on the held-out sentences. */
export interface MemberResult {
  member: number
  weights: CnnWeights
  heldOutLogits: Float64Array
}

/** Packs examples for {@link MemberJob}. */
export function packExamples(examples: readonly EncodedExample[]): PackedExamples {
  const offsets = new Int32Array(examples.length + 1)
  examples.forEach((e, i) => (offsets[i + 1] = offsets[i]! + e.tokens.length))
  const tokens = new Int32Array(offsets[examples.length]!)
  examples.forEach((e, i) => tokens.set(e.tokens, offsets[i]))
  const packed: PackedExamples = { labels: Uint8Array.from(examples, (e) => e.label), offsets, tokens }
  if (examples.some((e) => e.clause !== undefined)) packed.clauses = Int32Array.from(examples, (e) => e.clause ?? -1)
  return packed
}

function unpack(packed: PackedExamples): EncodedExample[] {
  return Array.from(packed.labels, (label, i) => ({
    label,
    tokens: packed.tokens.subarray(packed.offsets[i], packed.offsets[i + 1]),
    ...(packed.clauses && { clause: packed.clauses[i]! }),
  }))
}

/** Trains one member: `epochs` over all phrases (linear decay), then `rootEpochs` over sentences. */
export function trainMember(job: MemberJob, onProgress: (p: MemberProgress) => void): MemberResult {
  const hp = job.hyperParameters
  const random = seededRandom(job.seed)
  const rowsOf = Array.from({ length: job.rowOffsets.length - 1 }, (_, t) => job.rowData.subarray(job.rowOffsets[t], job.rowOffsets[t + 1]))
  const model = new CnnModel(job.rows, hp, random, job.subwords, job.pretrained)
  const [train, roots, heldOut] = [unpack(job.train), unpack(job.trainRoots), unpack(job.heldOut)]
  const epochBatches = Math.ceil(train.length / hp.batchSize)
  const totalBatches = hp.epochs * epochBatches
  let batchNo = 0
  // The contrast rule's teacher share rises with the phrase epochs done (and stays there for the sentence epochs).
  const pi = (): number => (hp.contrast ? teacherShare(hp.contrast, Math.min(batchNo, totalBatches) / epochBatches) : 0)
  const averageStart = hp.averageFrom ? Math.max(1, Math.round(hp.averageFrom * totalBatches)) : 0
  const averageEvery = Math.max(1, hp.averageEvery ?? 100)
  const runEpochs = (phase: MemberProgress['phase'], examples: EncodedExample[], epochs: number, rate: () => number): void => {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      shuffleInPlace(examples, random)
      let loss = 0
      for (let start = 0; start < examples.length; start += hp.batchSize) {
        loss += model.trainBatch(examples.slice(start, start + hp.batchSize), rowsOf, rate(), pi())
        batchNo += 1
        if (phase === 'phrases' && averageStart > 0 && batchNo >= averageStart && (batchNo - averageStart) % averageEvery === 0)
          model.addToAverage()
      }
      const heldOutAccuracy = heldOut.length === 0 ? NaN : accuracy(model.predict(heldOut, rowsOf), heldOut)
      onProgress({ member: job.member, phase, epoch, epochs, meanLoss: loss / examples.length, heldOutAccuracy })
    }
  }
  runEpochs('phrases', train, hp.epochs, () => hp.learningRate * Math.max(1 - batchNo / totalBatches, hp.averageRateFloor ?? 0))
  model.loadAverage()
  runEpochs('sentences', roots, hp.rootEpochs, () => hp.learningRate * hp.rootLearningRate)
  model.zeroUntrainedRows()
  return { member: job.member, weights: model.weights(), heldOutLogits: model.predict(heldOut, rowsOf) }
}

/** Share of examples whose larger logit is their label. */
export function accuracy(logits: Float64Array, examples: readonly { label: number }[]): number {
  let correct = 0
  examples.forEach((e, i) => {
    const predicted = logits[i * 2 + 1]! > logits[i * 2]! ? 1 : 0
    if (predicted === e.label) correct += 1
  })
  return correct / Math.max(1, examples.length)
}

/** Runs the jobs on `threads` worker threads (inline for 1); results come back in job order. */
export async function runMembers(jobs: MemberJob[], threads: number, onProgress: (p: MemberProgress) => void): Promise<MemberResult[]> {
  if (threads <= 1) return jobs.map((job) => trainMember(job, onProgress))
  const results: MemberResult[] = new Array<MemberResult>(jobs.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!
      results[job.member] = await runInWorker(job, onProgress)
    }
  }
  await Promise.all(Array.from({ length: threads }, lane))
  return results
}

function runInWorker(job: MemberJob, onProgress: (p: MemberProgress) => void): Promise<MemberResult> {
  const workerData = { kind: 'infergate-train-member', job }
  const { entry, eval: isEval } = workerEntry(import.meta.url, 'train-member')
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry, { eval: isEval, workerData })
    let result: MemberResult | undefined
    worker.on('message', (message: { type: 'progress'; progress: MemberProgress } | { type: 'done'; result: MemberResult }) => {
      if (message.type === 'progress') onProgress(message.progress)
      else result = message.result
    })
    worker.on('error', reject)
    worker.on('exit', (code) => {
      if (result !== undefined) resolve(result)
      else reject(new Error(`training worker for member ${job.member} exited with code ${code} and no result`))
    })
  })
}

if (!isMainThread && parentPort !== null && (workerData as { kind?: string } | null)?.kind === 'infergate-train-member') {
  const port = parentPort
  const job = (workerData as { job: MemberJob }).job
  const result = trainMember(job, (progress) => port.postMessage({ type: 'progress', progress }))
  port.postMessage({ type: 'done', result })
}
