/**
 * Loads a built-in model folder (`model.onnx` + `manifest.json`) as a {@link TextClassifier},
 * evaluated by `engine.ts` in a worker thread of its own.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { startWorker, type WorkerClient } from '../../lib/worker-calls.js'
import { workerEntry } from '../../lib/worker-entry.js'
import { ModelLoadError } from '../load-error.js'
import { toClassification } from '../scores.js'
import type { Classification, ModelInfo, TextClassifier } from '../types.js'
import type { EngineWorkerData } from './engine-worker.js'
import { MANIFEST_FILE, MODEL_FILE, validateManifest, type BuiltinManifest } from './manifest.js'
import { MAX_TOKENS } from './tokenizer.js'

/** Options of {@link loadBuiltinModel}. */
export interface LoadBuiltinModelOptions {
  /** Name clients use; defaults to the manifest's name. */
  name?: string
}

/**
 * Loads the model in `dir`. Throws an Error naming the file and the problem when the folder,
 * `manifest.json` or `model.onnx` is missing or unusable.
 */
export async function loadBuiltinModel(dir: string, options: LoadBuiltinModelOptions = {}): Promise<TextClassifier> {
  const manifestPath = path.join(dir, MANIFEST_FILE)
  const manifest = parseManifest(await readBytes(manifestPath), manifestPath)
  const modelPath = path.join(dir, manifest.onnx.file || MODEL_FILE)
  const bytes = new Uint8Array(await readBytes(modelPath))
  const vocabulary = await readVocabulary(dir, manifest)
  const data: EngineWorkerData = {
    bytes,
    features: manifest.features,
    vocabulary,
    inputs: manifest.onnx.inputs.map((t) => t.name),
    outputs: manifest.onnx.outputs.map((t) => t.name),
  }
  try {
    // In a worker thread: a batch of 64 takes a millisecond or more, which the event loop must not wait for.
    const { client } = await startWorker<readonly string[], Float32Array, null>(ENGINE_WORKER, data, { transfer: [bytes.buffer] })
    return new BuiltinClassifier(client, manifest, options.name ?? manifest.name)
  } catch (error) {
    throw new ModelLoadError(modelPath, `not a usable ONNX model (${(error as Error).message})`)
  }
}

const ENGINE_WORKER = workerEntry(import.meta.url, 'engine-worker')

class BuiltinClassifier implements TextClassifier {
  readonly info: ModelInfo

  constructor(
    private readonly worker: WorkerClient<readonly string[], Float32Array>,
    manifest: BuiltinManifest,
    name: string,
  ) {
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
    const probabilities = await this.worker.call(texts)
    const labels = this.info.labels
    return texts.map((_, i) => toClassification(Array.from(probabilities.subarray(i * labels.length, (i + 1) * labels.length)), labels))
  }

  close(): Promise<void> {
    return this.worker.release()
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

/** The pretrained words, one per line of the manifest's vocabulary file (none without one). */
export async function readVocabulary(dir: string, manifest: BuiltinManifest): Promise<string[]> {
  if (manifest.vocabulary === undefined || (manifest.features.pretrainedWords ?? 0) === 0) return []
  const file = path.join(dir, manifest.vocabulary.file)
  const words = (await readBytes(file)).toString('utf8').split('\n')
  if (words.at(-1) === '') words.pop()
  if (words.length !== manifest.vocabulary.words || new Set(words).size !== words.length) {
    throw new ModelLoadError(file, `must list ${manifest.vocabulary.words} distinct words, one per line (found ${words.length} lines)`)
  }
  return words
}

async function readBytes(file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ModelLoadError(file, code === 'ENOENT' ? 'file not found' : `cannot read (${(error as Error).message})`)
  }
}
