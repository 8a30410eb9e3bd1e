/**
 * A Hugging Face model's worker thread: it tokenises the texts of a batch and runs the ONNX
 * Runtime session, so neither blocks the event loop. (Tokenising 64 texts of 10,000 characters
 * takes ~90 ms; on the main thread that stalled every request for as long.)
 */
import ort from 'onnxruntime-node'
import { serveCalls } from '../../lib/worker-calls.js'
import { TokenEncoder } from './encoder.js'
import { isIdType, type IdType } from './tensor-types.js'
import type { ClassifyPayload, HfSessionInfo, HfWorkerData, LogitsAnswer } from './worker-protocol.js'

await serveCalls<ClassifyPayload, LogitsAnswer, HfSessionInfo>(async (data) => {
  const { modelFile, tokenizer, tokenizerConfig, maxLength, padTokenId, intraOpThreads } = data as HfWorkerData
  const encoder = new TokenEncoder(tokenizer, tokenizerConfig, maxLength, padTokenId)
  const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' })
  // The loader refuses any other input or type before the first call.
  const inputs = session.inputMetadata.flatMap((input) => (input.isTensor && isIdType(input.type) ? [[input.name, input.type] as [string, IdType]] : []))
  return {
    info: { inputs: [...session.inputMetadata], outputs: [...session.outputMetadata] },
    async handle(texts) {
      const batch = encoder.encodeBatch(texts)
      const dims = [batch.batch, batch.length]
      const values = { input_ids: batch.inputIds, attention_mask: batch.attentionMask, token_type_ids: batch.tokenTypeIds }
      const feeds = Object.fromEntries(inputs.map(([name, type]) => [name, idTensor(values[name as keyof typeof values], type, dims)]))
      const { logits } = await session.run(feeds, ['logits'])
      if (!logits) throw new Error('the model returned no logits')
      const answer: LogitsAnswer = { type: logits.type, data: logits.data, dims: logits.dims }
      return { answer, transfer: [(logits.data as ArrayBufferView).buffer as ArrayBuffer] }
    },
    release: () => session.release(),
  }
})

/** `ids` as a tensor of the type the graph declares (ids and masks fit in int32). */
function idTensor(ids: BigInt64Array, type: IdType, dims: number[]): ort.Tensor {
  return type === 'int64' ? new ort.Tensor(type, ids, dims) : new ort.Tensor(type, Int32Array.from(ids, Number), dims)
}
