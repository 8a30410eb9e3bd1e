/**
 * The built-in model's worker thread: tokenises and evaluates the texts posted to it (see
 * `engine.ts`), so a batch never holds up the event loop.
 */
import { serveCalls } from '../../lib/worker-calls.js'
import { BuiltinEngine } from './engine.js'
import { toVocabulary, type FeatureSpec } from './features.js'
import { readBuiltinWeights } from './weights.js'

export interface EngineWorkerData {
  bytes: Uint8Array
  features: FeatureSpec
  /** The pretrained vocabulary, line by line. */
  vocabulary: string[]
  /** Input and output names the manifest promises the graph has. */
  inputs: string[]
  outputs: string[]
}

await serveCalls<readonly string[], Float32Array, null>((data) => {
  const { bytes, features, vocabulary, inputs, outputs } = data as EngineWorkerData
  const weights = readBuiltinWeights(bytes, features)
  for (const [kind, expected, actual] of [['input', inputs, weights.inputNames], ['output', outputs, weights.outputNames]] as const) {
    const missing = expected.filter((name) => !actual.includes(name))
    if (missing.length > 0) throw new Error(`has no ${kind} named ${missing.join(', ')} (see manifest.json)`)
  }
  const engine = new BuiltinEngine(weights, features, { vocabulary: toVocabulary(vocabulary) })
  return {
    info: null,
    handle(texts) {
      const answer = engine.probabilities(texts)
      return { answer, transfer: [answer.buffer as ArrayBuffer] }
    },
  }
})
