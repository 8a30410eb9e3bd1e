/**
 * `kserve-v2`: the Open Inference Protocol (REST) of Triton, KServe and MLServer.
 *
 * A batch is one `POST {URL}/v2/models/{model}[/versions/{v}]/infer` with a BYTES input of
 * shape `[n]` or `[n, 1]` holding the texts, asking for one output: either numeric scores of
 * shape `[n, labels]` (turned into probabilities by `activation`), or BYTES labels of shape `[n]`
 * / `[n, 1]` (read as certain). Tensor data may come flat or nested, in row-major order. The
 * probe asks `GET .../ready` and reads the model's metadata, so that a wrong tensor name or type
 * stops the start instead of failing every request.
 */
import { sigmoid, softmax, toClassification } from '../scores.js'
import type { Classification } from '../types.js'
import type { Call, Protocol } from './protocol.js'
import { ProbeMismatch, certain, invalid, isRecord, oneEach, parseAnswer } from './protocol.js'
import type { RemoteModelSpec } from './spec.js'

const NUMERIC = new Set(['FP16', 'FP32', 'FP64', 'BF16', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64'])

export interface KserveOptions {
  model: string
  version?: string
  input: string
  output: string
  inputShape: 'n' | 'n,1'
  activation: 'softmax' | 'sigmoid' | 'none'
  labels: readonly string[]
}

export function kserveOptions(spec: RemoteModelSpec): KserveOptions {
  return {
    model: spec.upstreamModel ?? spec.name,
    ...(spec.version !== undefined && { version: spec.version }),
    input: spec.input ?? 'text',
    output: spec.output!,
    inputShape: spec.inputShape ?? 'n,1',
    activation: spec.activation ?? 'softmax',
    labels: spec.labels!,
  }
}

export class KserveV2Protocol implements Protocol {
  readonly takesBatches = true
  readonly labels: readonly string[]
  private readonly base: string

  constructor(
    url: string,
    private readonly options: KserveOptions,
  ) {
    this.labels = options.labels
    const root = new URL(url).pathname.replace(/\/+$/, '')
    const version = options.version === undefined ? '' : `/versions/${encodeURIComponent(options.version)}`
    this.base = `${root}/v2/models/${encodeURIComponent(options.model)}${version}`
  }

  async classify(texts: readonly string[], call: Call): Promise<Classification[]> {
    const { input, output, inputShape } = this.options
    const request = {
      inputs: [{ name: input, shape: inputShape === 'n' ? [texts.length] : [texts.length, 1], datatype: 'BYTES', data: texts }],
      outputs: [{ name: output }],
    }
    const body = parseAnswer(await call({ method: 'POST', path: `${this.base}/infer`, json: request }))
    if (!isRecord(body) || !Array.isArray(body.outputs)) throw invalid('no "outputs" list')
    const tensor = named(body.outputs, output)
    if (!tensor) throw invalid(`no output named "${output}"`)
    const data = flatten(tensor.data)
    if (tensor.datatype === 'BYTES') return [...oneEach(this.readLabels(data), texts)]
    if (typeof tensor.datatype === 'string' && NUMERIC.has(tensor.datatype)) return this.readScores(data, texts.length)
    throw invalid(`output "${output}" has datatype ${String(tensor.datatype)}`)
  }

  private readLabels(data: unknown[]): Classification[] {
    return data.map((label) => {
      if (typeof label !== 'string' || !this.labels.includes(label)) throw invalid('a label the model does not have')
      return certain(label, this.labels)
    })
  }

  private readScores(data: unknown[], rows: number): Classification[] {
    const width = this.labels.length
    if (data.length !== rows * width) throw invalid(`${data.length} scores for ${rows} texts of ${width} labels`)
    if (!data.every((value) => typeof value === 'number' && Number.isFinite(value))) throw invalid('a score that is not a finite number')
    const values = data as number[]
    return Array.from({ length: rows }, (_, row) => {
      const offset = row * width
      const probabilities =
        this.options.activation === 'softmax'
          ? softmax(values, offset, width)
          : this.options.activation === 'sigmoid'
            ? sigmoid(values, offset, width)
            : values.slice(offset, offset + width)
      if (probabilities.some((p) => p < 0 || p > 1)) throw invalid('scores that are not probabilities (activation=none)')
      return toClassification(probabilities, this.labels)
    })
  }

  async probe(call: Call): Promise<void> {
    await call({ method: 'GET', path: `${this.base}/ready` })
    const metadata = parseAnswer(await call({ method: 'GET', path: this.base }))
    const { input, output } = this.options
    const inputs = isRecord(metadata) ? metadata.inputs : undefined
    const outputs = isRecord(metadata) ? metadata.outputs : undefined
    const tensorIn = named(inputs, input)
    const tensorOut = named(outputs, output)
    if (!tensorIn) throw new ProbeMismatch(`the model has no input "${input}" (inputs: ${names(inputs)})`)
    if (tensorIn.datatype !== 'BYTES') throw new ProbeMismatch(`input "${input}" is ${String(tensorIn.datatype)}, not BYTES (texts)`)
    if (!tensorOut) throw new ProbeMismatch(`the model has no output "${output}" (outputs: ${names(outputs)})`)
    const width: unknown = Array.isArray(tensorOut.shape) ? tensorOut.shape.at(-1) : undefined
    if (tensorOut.datatype !== 'BYTES' && typeof width === 'number' && width > 0 && width !== this.labels.length) {
      throw new ProbeMismatch(`output "${output}" has ${width} scores per text but ${this.labels.length} labels were given`)
    }
  }
}

/** The tensor of a list (inputs, outputs) with that name. */
function named(list: unknown, name: string): Record<string, unknown> | undefined {
  if (!Array.isArray(list)) return undefined
  return (list as unknown[]).find((each): each is Record<string, unknown> => isRecord(each) && each.name === name)
}

function names(list: unknown): string {
  return Array.isArray(list) ? (list as unknown[]).map((each) => (isRecord(each) ? String(each.name) : '?')).join(', ') : 'none'
}

/** Tensor data, flat or nested, in row-major order. */
function flatten(data: unknown): unknown[] {
  if (!Array.isArray(data)) throw invalid('output data is not a list')
  return data.some(Array.isArray) ? (data.flat(4) as unknown[]) : data
}
