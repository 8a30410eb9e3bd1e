/**
 * Serves a Hugging Face text-classification ONNX export from a folder, unchanged:
 * `model.onnx` (inputs `input_ids`, `attention_mask`, optionally `token_type_ids`; output
 * `logits`), `tokenizer.json` (+ optional `tokenizer_config.json`) and `config.json` with
 * `id2label`. Everything is checked at load time, so a wrong folder stops the server at start
 * with the file and the problem named, never at the first request.
 *
 * The model's worker thread (`worker.ts`) tokenises and runs the session; this thread posts the
 * texts and turns the logits into scores.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { startWorker, type WorkerClient } from '../../lib/worker-calls.js'
import { workerEntry } from '../../lib/worker-entry.js'
import { ModelLoadError } from '../load-error.js'
import { classifyLogits } from '../scores.js'
import type { Classification, TextClassifier } from '../types.js'
import type { HfModelConfig } from './config.js'
import { readHfConfig } from './config.js'
import { TokenEncoder } from './encoder.js'
import { ID_TYPES, isIdType, LOGIT_TYPES, logitValues } from './tensor-types.js'
import type { ClassifyPayload, HfSessionInfo, HfWorkerData, LogitsAnswer } from './worker-protocol.js'

export interface HfLoadOptions {
  name: string
  /** Threads ONNX Runtime may use inside one call; default 1 (batching gives the parallelism). */
  intraOpThreads?: number
}

const REQUIRED_INPUTS = ['input_ids', 'attention_mask']
const KNOWN_INPUTS = [...REQUIRED_INPUTS, 'token_type_ids']
const WORKER = workerEntry(import.meta.url, 'worker')

type ModelWorker = { client: WorkerClient<ClassifyPayload, LogitsAnswer>; info: HfSessionInfo }

/**
 * Starts the model's worker on `model.onnx` by its path, so that ONNX Runtime reads weights stored
 * as external data (`model.onnx_data`, written by exporters for models over 2 GB) from beside it,
 * and only there: it refuses external data whose location leaves the model's folder.
 */
async function startModelWorker(file: string, config: HfModelConfig, threads: number): Promise<ModelWorker> {
  const stat = await fs.stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new ModelLoadError(file, error.code === 'ENOENT' ? 'file not found' : error.message)
  })
  if (!stat.isFile()) throw new ModelLoadError(file, 'not a file')
  const { tokenizer, tokenizerConfig, maxLength, padTokenId } = config
  const data: HfWorkerData = { modelFile: path.resolve(file), tokenizer, tokenizerConfig, maxLength, padTokenId, intraOpThreads: threads }
  try {
    return await startWorker<ClassifyPayload, LogitsAnswer, HfSessionInfo>(WORKER, data)
  } catch (error) {
    throw new ModelLoadError(file, `not a model ONNX Runtime can load (${(error as Error).message.split('\n')[0]})`)
  }
}

/** Checks the graph's inputs and output against what infergate feeds and reads. */
function checkSignature(session: HfSessionInfo, config: HfModelConfig, file: string): void {
  const inputNames = session.inputs.map((input) => input.name)
  const missing = REQUIRED_INPUTS.filter((name) => !inputNames.includes(name))
  if (missing.length > 0) throw new ModelLoadError(file, `inputs must include ${missing.join(' and ')} (it has ${inputNames.join(', ')})`)
  const unknown = inputNames.filter((name) => !KNOWN_INPUTS.includes(name))
  if (unknown.length > 0) throw new ModelLoadError(file, `unexpected inputs ${unknown.join(', ')}: only ${KNOWN_INPUTS.join(', ')} are fed`)
  for (const input of session.inputs) {
    const type = input.isTensor ? input.type : 'not a tensor'
    if (!isIdType(type)) throw new ModelLoadError(file, `input "${input.name}" is ${type}: ids are fed as ${ID_TYPES.join(' or ')}`)
  }
  const logits = session.outputs.find((output) => output.name === 'logits')
  if (!logits) throw new ModelLoadError(file, `no output named "logits" (outputs: ${session.outputs.map((output) => output.name).join(', ')})`)
  if (logits.isTensor && !(LOGIT_TYPES as readonly string[]).includes(logits.type)) {
    throw new ModelLoadError(file, `"logits" is ${logits.type}: only ${LOGIT_TYPES.join(', ')} logits are read`)
  }
  const classes = logits.isTensor ? logits.shape.at(-1) : undefined
  if (typeof classes === 'number' && classes !== config.labels.length) {
    throw new ModelLoadError(file, `"logits" has ${classes} classes but config.json id2label names ${config.labels.length}`)
  }
}

class HfClassifier implements TextClassifier {
  readonly info

  constructor(
    name: string,
    dir: string,
    config: HfModelConfig,
    private readonly worker: WorkerClient<ClassifyPayload, LogitsAnswer>,
  ) {
    const { labels, maxLength, multiLabel } = config
    this.info = { name, task: 'text-classification' as const, labels, source: path.resolve(dir), maxLength, multiLabel }
  }

  async classifyBatch(texts: readonly string[]): Promise<Classification[]> {
    const logits = await this.worker.call(texts)
    const { labels, multiLabel } = this.info
    if (logits.dims.length !== 2 || logits.dims[0] !== texts.length || logits.dims[1] !== labels.length) {
      throw new Error(`the model returned logits of shape [${logits.dims.join(', ')}] for ${texts.length} texts and ${labels.length} labels`)
    }
    return classifyLogits(logitValues(logits), texts.length, labels, multiLabel)
  }

  close(): Promise<void> {
    return this.worker.release()
  }
}

/** Loads a Hugging Face text-classification export folder; throws ModelLoadError when it is wrong. */
export async function loadHfModel(dir: string, options: HfLoadOptions): Promise<TextClassifier> {
  const config = await readHfConfig(dir)
  checkTokenizer(config, dir)
  const file = path.join(dir, 'model.onnx')
  const { client, info } = await startModelWorker(file, config, options.intraOpThreads ?? 1)
  const classifier = new HfClassifier(options.name, dir, config, client)
  try {
    checkSignature(info, config, file)
    await probe(classifier, config, file)
  } catch (error) {
    await client.release()
    throw error
  }
  return classifier
}

/**
 * Classifies one text as long as the model will ever get, before serving: a model that cannot
 * take `maxLength` tokens (fewer position embeddings than the tokenizer allows) or answers with
 * logits of the wrong shape stops the start instead of failing requests. It also warms the session.
 */
async function probe(classifier: HfClassifier, config: HfModelConfig, file: string): Promise<void> {
  try {
    await classifier.classifyBatch(['a '.repeat(config.maxLength + 8)])
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]
    throw new ModelLoadError(file, `fails on a text of ${config.maxLength} tokens, the longest it will be given (${reason}); if it takes fewer, set model_max_length in tokenizer_config.json`)
  }
}

/** Builds the tokenizer once here, so that a wrong `tokenizer.json` is named as such (the worker builds its own). */
function checkTokenizer(config: HfModelConfig, dir: string): void {
  try {
    new TokenEncoder(config.tokenizer, config.tokenizerConfig, config.maxLength, config.padTokenId)
  } catch (error) {
    throw new ModelLoadError(path.join(dir, 'tokenizer.json'), `cannot build the tokenizer (${(error as Error).message})`)
  }
}
