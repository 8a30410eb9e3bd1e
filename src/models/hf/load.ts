/**
 * Serves a Hugging Face text-classification ONNX export from a folder, unchanged:
 * `model.onnx` (inputs `input_ids`, `attention_mask`, optionally `token_type_ids`; output
 * `logits`), `tokenizer.json` (+ optional `tokenizer_config.json`) and `config.json` with
 * `id2label`. Everything is checked at load time, so a wrong folder stops the server at start
 * with the file and the problem named, never at the first request.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import type { ModelSession } from '../onnx/session.js'
import { openSession } from '../onnx/session.js'
import type { WireTensor } from '../onnx/session-protocol.js'
import { ModelLoadError } from '../load-error.js'
import { classifyLogits } from '../scores.js'
import type { Classification, TextClassifier } from '../types.js'
import type { HfModelConfig } from './config.js'
import { readHfConfig } from './config.js'
import { TokenEncoder } from './encoder.js'
import { ID_TYPES, idTensor, isIdType, LOGIT_TYPES, logitValues, type IdType } from './tensor-types.js'

export interface HfLoadOptions {
  name: string
  /** Threads ONNX Runtime may use inside one call; default 1 (batching gives the parallelism). */
  intraOpThreads?: number
}

const REQUIRED_INPUTS = ['input_ids', 'attention_mask']
const KNOWN_INPUTS = [...REQUIRED_INPUTS, 'token_type_ids']

/**
 * Opens `model.onnx` by its path, so that ONNX Runtime reads weights stored as external data
 * (`model.onnx_data`, written by exporters for models over 2 GB) from beside it, and only there:
 * it refuses external data whose location leaves the model's folder.
 */
async function openModel(file: string, threads: number): Promise<ModelSession> {
  const stat = await fs.stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new ModelLoadError(file, error.code === 'ENOENT' ? 'file not found' : error.message)
  })
  if (!stat.isFile()) throw new ModelLoadError(file, 'not a file')
  try {
    return await openSession(path.resolve(file), { intraOpThreads: threads })
  } catch (error) {
    throw new ModelLoadError(file, `not a model ONNX Runtime can load (${(error as Error).message.split('\n')[0]})`)
  }
}

/** Checks the graph's inputs and output against what infergate feeds and reads; returns the id type of each input. */
function checkSignature(session: ModelSession, config: HfModelConfig, file: string): Map<string, IdType> {
  const missing = REQUIRED_INPUTS.filter((name) => !session.inputNames.includes(name))
  if (missing.length > 0) throw new ModelLoadError(file, `inputs must include ${missing.join(' and ')} (it has ${session.inputNames.join(', ')})`)
  const unknown = session.inputNames.filter((name) => !KNOWN_INPUTS.includes(name))
  if (unknown.length > 0) throw new ModelLoadError(file, `unexpected inputs ${unknown.join(', ')}: only ${KNOWN_INPUTS.join(', ')} are fed`)
  const idTypes = new Map<string, IdType>()
  for (const input of session.inputMetadata) {
    const type = input.isTensor ? input.type : 'not a tensor'
    if (!isIdType(type)) throw new ModelLoadError(file, `input "${input.name}" is ${type}: ids are fed as ${ID_TYPES.join(' or ')}`)
    idTypes.set(input.name, type)
  }
  if (!session.outputNames.includes('logits')) throw new ModelLoadError(file, `no output named "logits" (outputs: ${session.outputNames.join(', ')})`)
  const logits = session.outputMetadata.find((meta) => meta.name === 'logits')
  if (logits?.isTensor && !(LOGIT_TYPES as readonly string[]).includes(logits.type)) {
    throw new ModelLoadError(file, `"logits" is ${logits.type}: only ${LOGIT_TYPES.join(', ')} logits are read`)
  }
  const classes = logits?.isTensor ? logits.shape.at(-1) : undefined
  if (typeof classes === 'number' && classes !== config.labels.length) {
    throw new ModelLoadError(file, `"logits" has ${classes} classes but config.json id2label names ${config.labels.length}`)
  }
  return idTypes
}

class HfClassifier implements TextClassifier {
  readonly info

  constructor(
    name: string,
    dir: string,
    private readonly session: ModelSession,
    private readonly encoder: TokenEncoder,
    private readonly labels: string[],
    /** Each input the graph declares, with the integer type it wants. */
    private readonly idTypes: Map<string, IdType>,
  ) {
    this.info = { name, task: 'text-classification' as const, labels, source: path.resolve(dir), maxLength: encoder.maxLength }
  }

  async classifyBatch(texts: readonly string[]): Promise<Classification[]> {
    const batch = this.encoder.encodeBatch(texts)
    const dims = [batch.batch, batch.length]
    const values = { input_ids: batch.inputIds, attention_mask: batch.attentionMask, token_type_ids: batch.tokenTypeIds }
    const feeds: Record<string, WireTensor> = {}
    for (const [name, type] of this.idTypes) feeds[name] = idTensor(values[name as keyof typeof values], type, dims)
    const { logits } = await this.session.run(feeds, ['logits'])
    if (!logits || logits.dims.at(-1) !== this.labels.length) throw new Error('the model returned logits of an unexpected shape')
    return classifyLogits(logitValues(logits), texts.length, this.labels)
  }

  close(): Promise<void> {
    return this.session.release()
  }
}

/** Loads a Hugging Face text-classification export folder; throws ModelLoadError when it is wrong. */
export async function loadHfModel(dir: string, options: HfLoadOptions): Promise<TextClassifier> {
  const config = await readHfConfig(dir)
  let encoder: TokenEncoder
  try {
    encoder = new TokenEncoder(config.tokenizer, config.tokenizerConfig, config.maxLength, config.padTokenId)
  } catch (error) {
    throw new ModelLoadError(path.join(dir, 'tokenizer.json'), `cannot build the tokenizer (${(error as Error).message})`)
  }
  const file = path.join(dir, 'model.onnx')
  const session = await openModel(file, options.intraOpThreads ?? 1)
  try {
    return new HfClassifier(options.name, dir, session, encoder, config.labels, checkSignature(session, config, file))
  } catch (error) {
    await session.release()
    throw error
  }
}
