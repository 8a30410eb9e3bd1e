/**
 * Loads a built-in model folder (`model.onnx` + `manifest.json`) as a {@link TextClassifier}.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { ModelLoadError } from '../load-error.js'
import type { ModelSession } from '../onnx/session.js'
import { openSession } from '../onnx/session.js'
import type { WireTensor } from '../onnx/session-protocol.js'
import { toClassification } from '../scores.js'
import type { Classification, ModelInfo, TextClassifier } from '../types.js'
import { MANIFEST_FILE, MODEL_FILE, validateManifest, type BuiltinManifest } from './manifest.js'
import { Featurizer } from './features.js'
import { MAX_TOKENS, tokenize } from './tokenizer.js'

/** Options of {@link loadBuiltinModel}. */
export interface LoadBuiltinModelOptions {
  /** Name clients use; defaults to the manifest's name. */
  name?: string
  /** ONNX Runtime intra-op threads (default 1: one request batch per core scales best). */
  intraOpThreads?: number
}

/**
 * Loads the model in `dir`. Throws an Error naming the file and the problem when the folder,
 * `manifest.json` or `model.onnx` is missing or unusable.
 */
export async function loadBuiltinModel(dir: string, options: LoadBuiltinModelOptions = {}): Promise<TextClassifier> {
  const manifestPath = path.join(dir, MANIFEST_FILE)
  const manifest = parseManifest(await readBytes(manifestPath), manifestPath)
  const modelPath = path.join(dir, manifest.onnx.file || MODEL_FILE)
  const bytes = await readBytes(modelPath)
  let session: ModelSession
  try {
    // In a worker thread: a batch of 64 takes milliseconds, which the event loop must not wait for.
    session = await openSession(bytes, { intraOpThreads: options.intraOpThreads ?? 1 })
  } catch (error) {
    throw new ModelLoadError(modelPath, `not a usable ONNX model (${(error as Error).message.split('\n')[0]})`)
  }
  for (const [kind, expected, actual] of [
    ['input', manifest.onnx.inputs, session.inputNames],
    ['output', manifest.onnx.outputs, session.outputNames],
  ] as const) {
    const missing = expected.map((t) => t.name).filter((n) => !actual.includes(n))
    if (missing.length > 0) {
      await session.release()
      throw new ModelLoadError(modelPath, `has no ${kind} named ${missing.join(', ')} (see ${manifestPath})`)
    }
  }
  return new BuiltinClassifier(session, manifest, options.name ?? manifest.name)
}

class BuiltinClassifier implements TextClassifier {
  readonly info: ModelInfo
  private readonly featurizer: Featurizer

  constructor(
    private readonly session: ModelSession,
    manifest: BuiltinManifest,
    name: string,
  ) {
    this.featurizer = new Featurizer(manifest.features)
    this.info = {
      name,
      task: 'text-classification',
      labels: [...manifest.labels],
      source: 'builtin',
      maxLength: MAX_TOKENS,
      description: manifest.description,
    }
  }

  async classifyBatch(texts: readonly string[]): Promise<Classification[]> {
    if (texts.length === 0) return []
    const features = this.featurize(texts)
    const output = await this.session.run({ features }, ['probabilities'])
    const probabilities = output.probabilities!.data as Float32Array
    const labels = this.info.labels
    return texts.map((_, i) => toClassification(Array.from(probabilities.subarray(i * labels.length, (i + 1) * labels.length)), labels))
  }

  async close(): Promise<void> {
    await this.session.release()
  }

  /** One padded int64 tensor [batch, tokens, slots] (see `Featurizer.batch`). */
  private featurize(texts: readonly string[]): WireTensor {
    const { data, dims } = this.featurizer.batch(texts.map((text) => tokenize(text)))
    return { type: 'int64', data, dims }
  }
}

function parseManifest(bytes: Buffer, file: string): BuiltinManifest {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch (error) {
    throw new ModelLoadError(file, `not valid JSON (${(error as Error).message})`)
  }
  return validateManifest(value, file)
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ModelLoadError(file, code === 'ENOENT' ? 'file not found' : `cannot read (${(error as Error).message})`)
  }
}
