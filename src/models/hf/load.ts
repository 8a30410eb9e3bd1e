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

function checkSignature(session: ModelSession, config: HfModelConfig, file: string): void {
  const missing = REQUIRED_INPUTS.filter((name) => !session.inputNames.includes(name))
  if (missing.length > 0) throw new ModelLoadError(file, `inputs must include ${missing.join(' and ')} (it has ${session.inputNames.join(', ')})`)
  const unknown = session.inputNames.filter((name) => !KNOWN_INPUTS.includes(name))
  if (unknown.length > 0) throw new ModelLoadError(file, `unexpected inputs ${unknown.join(', ')}: only ${KNOWN_INPUTS.join(', ')} are fed`)
  if (!session.outputNames.includes('logits')) throw new ModelLoadError(file, `no output named "logits" (outputs: ${session.outputNames.join(', ')})`)
  const logits = session.outputMetadata.find((meta) => meta.name === 'logits')
  const classes = logits?.isTensor ? logits.shape.at(-1) : undefined
  if (typeof classes === 'number' && classes !== config.labels.length) {
    throw new ModelLoadError(file, `"logits" has ${classes} classes but config.json id2label names ${config.labels.length}`)
  }
}

class HfClassifier implements TextClassifier {
  readonly info
  private readonly feedsTokenTypes: boolean

  constructor(
    name: string,
    dir: string,
    private readonly session: ModelSession,
    private readonly encoder: TokenEncoder,
    private readonly labels: string[],
  ) {
    this.info = { name, task: 'text-classification' as const, labels, source: path.resolve(dir), maxLength: encoder.maxLength }
    this.feedsTokenTypes = session.inputNames.includes('token_type_ids')
  }

  async classifyBatch(texts: readonly string[]): Promise<Classification[]> {
    const batch = this.encoder.encodeBatch(texts)
    const dims = [batch.batch, batch.length]
    const feeds: Record<string, WireTensor> = {
      input_ids: { type: 'int64', data: batch.inputIds, dims },
      attention_mask: { type: 'int64', data: batch.attentionMask, dims },
    }
    if (this.feedsTokenTypes) feeds.token_type_ids = { type: 'int64', data: batch.tokenTypeIds, dims }
    const { logits } = await this.session.run(feeds, ['logits'])
    if (!logits || logits.dims.at(-1) !== this.labels.length) throw new Error('the model returned logits of an unexpected shape')
    return classifyLogits(logits.data as Float32Array, texts.length, this.labels)
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
    checkSignature(session, config, file)
  } catch (error) {
    await session.release()
    throw error
  }
  return new HfClassifier(options.name, dir, session, encoder, config.labels)
}
