/**
 * A small typed helper over `onnx-proto` for building ONNX models in code.
 *
 * ```ts
 * const g = new GraphBuilder('affine')
 * g.input('x', 'float32', ['batch', 3])
 * g.initializer('w', new Float32Array([1, 2, 3, 4, 5, 6]), [3, 2])
 * g.node('MatMul', ['x', 'w'], ['y'])
 * g.output('y', 'float32', ['batch', 2])
 * const bytes = g.toBytes({ opsetVersion: 17 })
 * ```
 *
 * Dimensions are numbers (fixed) or strings (symbolic, e.g. `batch`, `sequence`). Attributes are
 * written with the `attr` helpers; plain integers, integer arrays and strings are accepted as a
 * shorthand for `attr.int`, `attr.ints` and `attr.string`.
 */
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto
type AttributeProto = onnxProto.onnx.IAttributeProto
type TensorProto = onnxProto.onnx.ITensorProto
type NodeProto = onnxProto.onnx.INodeProto
type ValueInfoProto = onnxProto.onnx.IValueInfoProto

/** Element types the builder can declare; `float16` data is passed as IEEE half bits in a Uint16Array. */
export type ElementType = 'float32' | 'float16' | 'float64' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool'

/** A dimension: a fixed size or a symbolic name such as `batch`. */
export type Dim = number | string

/** Typed array accepted as initializer data; it must match the declared element type. */
export type TensorData = Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array | Int32Array | BigInt64Array

const DATA_TYPES: Record<ElementType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  float16: onnx.TensorProto.DataType.FLOAT16,
  float64: onnx.TensorProto.DataType.DOUBLE,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
}

const ARRAY_TYPES: Record<ElementType, new (n: number) => TensorData> = {
  float32: Float32Array,
  float16: Uint16Array,
  float64: Float64Array,
  int8: Int8Array,
  uint8: Uint8Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
}

/** An attribute value built by one of the `attr` helpers. */
export interface Attribute {
  readonly proto: Omit<AttributeProto, 'name'>
}

/** A node attribute: an `attr` helper result, or an integer, integer list or string shorthand. */
export type AttributeValue = Attribute | number | number[] | string

const AttrType = onnx.AttributeProto.AttributeType

/** Builders for node attributes, one per ONNX attribute type. */
export const attr = {
  int: (value: number): Attribute => ({ proto: { type: AttrType.INT, i: value } }),
  ints: (values: readonly number[]): Attribute => ({ proto: { type: AttrType.INTS, ints: [...values] } }),
  float: (value: number): Attribute => ({ proto: { type: AttrType.FLOAT, f: value } }),
  floats: (values: readonly number[]): Attribute => ({ proto: { type: AttrType.FLOATS, floats: [...values] } }),
  string: (value: string): Attribute => ({ proto: { type: AttrType.STRING, s: new TextEncoder().encode(value) } }),
  tensor: (type: ElementType, data: TensorData, dims: readonly number[]): Attribute => ({
    proto: { type: AttrType.TENSOR, t: tensorProto('', type, data, dims) },
  }),
}

/** Options of {@link GraphBuilder.toModel}. */
export interface ModelOptions {
  /** Version of the default (`ai.onnx`) operator set; 17 unless given. */
  opsetVersion?: number
  /** ONNX IR version; 8 unless given (understood by every recent runtime). */
  irVersion?: number
  producerName?: string
  producerVersion?: string
  docString?: string
  /** Free-form key/value pairs stored in the model's `metadata_props`. */
  metadata?: Record<string, string>
}

/** Accumulates inputs, outputs, initializers and nodes, then serialises them as one ONNX model. */
export class GraphBuilder {
  private readonly inputs: ValueInfoProto[] = []
  private readonly outputs: ValueInfoProto[] = []
  private readonly initializers: TensorProto[] = []
  private readonly nodes: NodeProto[] = []
  private readonly names = new Set<string>()
  private nodeCount = 0

  constructor(readonly name: string) {}

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElementType, shape: readonly Dim[]): string {
    this.claim(name)
    this.inputs.push(valueInfo(name, type, shape))
    return name
  }

  /** Declares a graph output (produced by some node) and returns its name. */
  output(name: string, type: ElementType, shape: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, type, shape))
    return name
  }

  /** Adds a constant tensor stored in the model; `type` defaults from the array type. */
  initializer(name: string, data: TensorData, dims: readonly number[], type: ElementType = typeOf(data)): string {
    this.claim(name)
    this.initializers.push(tensorProto(name, type, data, dims))
    return name
  }

  /** Adds a node; use `''` for an omitted optional input. Returns the output names. */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    options: { name?: string; domain?: string } = {},
  ): string[] {
    const attribute = Object.entries(attributes).map(([key, value]) => ({ name: key, ...toAttribute(value).proto }))
    for (const output of outputs) this.claim(output)
    this.nodes.push({
      opType,
      input: [...inputs],
      output: [...outputs],
      name: options.name ?? `${opType}_${this.nodeCount}`,
      domain: options.domain ?? '',
      attribute,
    })
    this.nodeCount += 1
    return [...outputs]
  }

  /** Returns the model as an `onnx.ModelProto` message. */
  toModel(options: ModelOptions = {}): onnxProto.onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: options.irVersion ?? 8,
      producerName: options.producerName ?? 'infergate',
      producerVersion: options.producerVersion ?? '',
      docString: options.docString ?? '',
      opsetImport: [{ domain: '', version: options.opsetVersion ?? 17 }],
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
        node: this.nodes,
      },
    })
  }

  /** Serialises the model to the ONNX protobuf bytes that `InferenceSession.create` accepts. */
  toBytes(options: ModelOptions = {}): Uint8Array {
    return onnx.ModelProto.encode(this.toModel(options)).finish()
  }

  private claim(name: string): void {
    if (name === '') throw new Error('an ONNX value name must not be empty')
    if (this.names.has(name)) throw new Error(`ONNX value "${name}" is defined twice`)
    this.names.add(name)
  }
}

/** Decodes ONNX bytes back into a `ModelProto` (to inspect a model in tests and tools). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes)
}

function toAttribute(value: AttributeValue): Attribute {
  if (typeof value === 'string') return attr.string(value)
  if (Array.isArray(value)) return attr.ints(value)
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${value} is not an integer; use attr.float()`)
    return attr.int(value)
  }
  return value
}

function typeOf(data: TensorData): ElementType {
  const entry = Object.entries(ARRAY_TYPES).find(([, ctor]) => data instanceof ctor)
  if (entry === undefined) throw new Error('unsupported initializer array type')
  return entry[0] as ElementType
}

function tensorProto(name: string, type: ElementType, data: TensorData, dims: readonly number[]): TensorProto {
  if (!(data instanceof ARRAY_TYPES[type])) throw new Error(`tensor "${name}": data does not match type ${type}`)
  const count = dims.reduce((a, b) => a * b, 1)
  if (data.length !== count) {
    throw new Error(`tensor "${name}": ${data.length} values for shape [${dims.join(', ')}]`)
  }
  // raw_data is little-endian by the ONNX spec, which is also the byte order of every platform Node runs on.
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return { name, dataType: DATA_TYPES[type], dims: [...dims], rawData }
}

function valueInfo(name: string, type: ElementType, shape: readonly Dim[]): ValueInfoProto {
  const dim = shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }))
  return { name, type: { tensorType: { elemType: DATA_TYPES[type], shape: { dim } } } }
}
