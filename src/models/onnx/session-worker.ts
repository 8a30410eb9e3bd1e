/**
 * The inference worker: owns one ONNX Runtime session and runs the calls posted to it, one at
 * a time, off the main thread.
 */
import { parentPort, workerData } from 'node:worker_threads'
import ort from 'onnxruntime-node'
import type { SessionRequest, SessionResponse, WireTensor } from './session-protocol.js'

const { bytes, intraOpThreads } = workerData as { bytes: Uint8Array; intraOpThreads: number }
const port = parentPort!

function send(message: SessionResponse, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer)
}

function toWire(tensor: ort.Tensor): WireTensor {
  return { type: tensor.type, data: tensor.data, dims: tensor.dims }
}

async function serve(session: ort.InferenceSession): Promise<void> {
  port.on('message', (request: SessionRequest) => {
    if (request.type === 'release') {
      void session.release().finally(() => process.exit(0))
      return
    }
    const feeds = Object.fromEntries(Object.entries(request.feeds).map(([name, t]) => [name, new ort.Tensor(t.type, t.data as never, t.dims)]))
    ;(request.fetches ? session.run(feeds, request.fetches) : session.run(feeds)).then(
      (outputs) => {
        const wire = Object.fromEntries(Object.entries(outputs).map(([name, tensor]) => [name, toWire(tensor)]))
        const transfer = Object.values(wire).map((t) => (t.data as ArrayBufferView).buffer as ArrayBuffer)
        send({ type: 'result', id: request.id, outputs: wire }, transfer)
      },
      (error: unknown) => send({ type: 'failed', id: request.id, message: (error as Error).message }),
    )
  })
}

try {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, graphOptimizationLevel: 'all' })
  send({ type: 'ready', inputNames: [...session.inputNames], outputNames: [...session.outputNames], outputMetadata: [...session.outputMetadata] })
  await serve(session)
} catch (error) {
  send({ type: 'error', message: (error as Error).message.split('\n')[0] ?? 'unknown error' })
}
