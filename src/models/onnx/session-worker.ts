/**
 * The inference worker: owns one ONNX Runtime session and runs the calls posted to it off the
 * main thread.
 */
import ort from 'onnxruntime-node'
import { serveCalls } from '../../lib/worker-calls.js'
import type { RunAnswer, RunPayload, SessionInfo, SessionWorkerData, WireTensor } from './session-protocol.js'

function toWire(tensor: ort.Tensor): WireTensor {
  return { type: tensor.type, data: tensor.data, dims: tensor.dims }
}

await serveCalls<RunPayload, RunAnswer, SessionInfo>(async (data) => {
  const { model, intraOpThreads } = data as SessionWorkerData
  const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' }
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options)
  return {
    info: { inputNames: [...session.inputNames], outputNames: [...session.outputNames], inputMetadata: [...session.inputMetadata], outputMetadata: [...session.outputMetadata] },
    async handle({ feeds, fetches }) {
      const inputs = Object.fromEntries(Object.entries(feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data as never, t.dims)]))
      const outputs = await (fetches ? session.run(inputs, fetches) : session.run(inputs))
      const answer = Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, toWire(tensor)]))
      return { answer, transfer: Object.values(answer).map((t) => (t.data as ArrayBufferView).buffer as ArrayBuffer) }
    },
    release: () => session.release(),
  }
})
