/**
 * `--model NAME=URL?protocol=P[&option=value...]`: a model served by another server. Every
 * option is checked here, at start, so that a typo stops the process with one line instead of
 * failing requests later. The upstream credential is never part of the spec: only the name of
 * the header and of the environment variable that holds its value.
 */

const PROTOCOLS = ['seed', 'kserve-v2', 'hf-inference'] as const
type RemoteProtocol = (typeof PROTOCOLS)[number]

export interface RemoteModelSpec {
  name: string
  /** The upstream URL, without query string or credentials. */
  url: string
  protocol: RemoteProtocol
  maxBatch?: number
  maxWaitMs?: number
  maxQueue?: number
  /** Units of the limits one text costs (default 1). */
  cost?: number
  /** Upstream calls in flight at once. */
  maxConcurrency?: number
  /** Longest one upstream call may take. */
  timeoutMs?: number
  /** Start even when the upstream does not answer the start-up probe. */
  optional: boolean
  /** The header that carries the upstream credential, and the environment variable holding its whole value. */
  auth?: { header: string; env: string }
  /** The model's labels, in the order of its scores. */
  labels?: string[]
  /** Consecutive failures that open the circuit breaker. */
  breakerFailures?: number
  /** How long the breaker stays open before its first probe. */
  breakerCooldownMs?: number
  /** kserve-v2: the model's name on the server (default NAME), its version, input and output tensors. */
  upstreamModel?: string
  version?: string
  input?: string
  output?: string
  inputShape?: 'n' | 'n,1'
  activation?: 'softmax' | 'sigmoid' | 'none'
  /** hf-inference: Text Embeddings Inference (`tei`) or the Inference Toolkit / Inference API (`toolkit`). */
  server?: 'tei' | 'toolkit'
}

type Setter = (spec: RemoteModelSpec, value: string) => void
interface Option {
  set: Setter
  /** The protocols that take it; all when absent. */
  only?: readonly RemoteProtocol[]
}

function integer(min: number, max: number, set: (spec: RemoteModelSpec, value: number) => void): Setter {
  return (spec, value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new Error(`must be from ${min} to ${max}`)
    set(spec, Number(value))
  }
}

function choice<T extends string>(choices: readonly T[], set: (spec: RemoteModelSpec, value: T) => void): Setter {
  return (spec, value) => {
    if (!(choices as readonly string[]).includes(value)) throw new Error(`must be one of ${choices.join(', ')}`)
    set(spec, value as T)
  }
}

// A name as an OIP server, an HTTP header or a shell variable spells it: nothing that could
// smuggle a path segment, a header line or a second option.
const TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
function token(set: (spec: RemoteModelSpec, value: string) => void): Setter {
  return (spec, value) => {
    if (!TOKEN.test(value)) throw new Error('must be letters, digits, . _ - (at most 128)')
    set(spec, value)
  }
}

const OPTIONS: Record<string, Option> = {
  protocol: { set: () => {} },
  'max-batch': { set: integer(1, 4096, (s, v) => (s.maxBatch = v)), only: ['kserve-v2', 'hf-inference'] },
  'max-wait': { set: integer(0, 1000, (s, v) => (s.maxWaitMs = v)) },
  'max-queue': { set: integer(1, 1_000_000, (s, v) => (s.maxQueue = v)) },
  cost: { set: integer(1, 1_000_000, (s, v) => (s.cost = v)) },
  'max-concurrency': { set: integer(1, 1024, (s, v) => (s.maxConcurrency = v)) },
  timeout: { set: integer(1, 600_000, (s, v) => (s.timeoutMs = v)) },
  optional: { set: choice(['true', 'false'], (s, v) => (s.optional = v === 'true')) },
  'auth-header': { set: token((s, v) => (s.auth = { header: v, env: s.auth?.env ?? '' })) },
  'auth-env': {
    set: (spec, value) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(value)) throw new Error('must be an environment variable name such as SEED_API_KEY')
      spec.auth = { header: spec.auth?.header ?? '', env: value }
    },
  },
  labels: {
    set: (spec, value) => {
      const labels = value.split(',').map((label) => label.trim())
      if (labels.length < 2 || labels.some((label) => label === '' || label.length > 128)) throw new Error('must be two or more labels, comma-separated')
      if (new Set(labels).size !== labels.length) throw new Error('must not repeat a label')
      spec.labels = labels
    },
    only: ['kserve-v2', 'hf-inference'],
  },
  'breaker-failures': { set: integer(1, 1000, (s, v) => (s.breakerFailures = v)) },
  'breaker-cooldown': { set: integer(100, 3_600_000, (s, v) => (s.breakerCooldownMs = v)) },
  model: { set: token((s, v) => (s.upstreamModel = v)), only: ['kserve-v2'] },
  version: { set: token((s, v) => (s.version = v)), only: ['kserve-v2'] },
  input: { set: token((s, v) => (s.input = v)), only: ['kserve-v2'] },
  output: { set: token((s, v) => (s.output = v)), only: ['kserve-v2'] },
  'input-shape': { set: choice(['n', 'n,1'], (s, v) => (s.inputShape = v)), only: ['kserve-v2'] },
  activation: { set: choice(['softmax', 'sigmoid', 'none'], (s, v) => (s.activation = v)), only: ['kserve-v2'] },
  server: { set: choice(['tei', 'toolkit'], (s, v) => (s.server = v)), only: ['hf-inference'] },
}

/** True when the part after `NAME=` is a URL rather than a folder. */
export function isRemoteTarget(target: string): boolean {
  return /^https?:\/\//i.test(target)
}

/** Parses the `URL?options` of a remote model named `name`; throws a readable message otherwise. */
export function parseRemoteSpec(name: string, target: string): RemoteModelSpec {
  const at = target.indexOf('?')
  const url = checkedUrl(at < 0 ? target : target.slice(0, at))
  const params = new URLSearchParams(at < 0 ? '' : target.slice(at + 1))
  const protocol = params.get('protocol')
  if (protocol === null || !(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new Error(`give the server's protocol: ?protocol=${PROTOCOLS.join('|')}`)
  }
  const spec: RemoteModelSpec = { name, url, protocol: protocol as RemoteProtocol, optional: false }
  const seen = new Set<string>()
  for (const [key, value] of params) {
    const option = OPTIONS[key]
    if (!option) throw new Error(`unknown option ${key} (known: ${Object.keys(OPTIONS).join(', ')})`)
    if (seen.has(key)) throw new Error(`option ${key} is given twice`)
    seen.add(key)
    if (option.only && !option.only.includes(spec.protocol)) throw new Error(`option ${key} is for ${option.only.join(', ')} only`)
    try {
      option.set(spec, value)
    } catch (error) {
      throw new Error(`${key} ${(error as Error).message}`, { cause: error })
    }
  }
  checkCombinations(spec)
  return spec
}

/** The URL of an upstream, refused when it holds a credential or a fragment (also for `--llm`). */
export function checkedUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error(`"${raw}" is not a URL`)
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error('the URL holds a credential: put it in an environment variable and give &auth-header=NAME&auth-env=VARIABLE')
  }
  if (url.hash !== '') throw new Error('the URL must not have a #fragment')
  return url.href
}

function checkCombinations(spec: RemoteModelSpec): void {
  if (spec.auth && (spec.auth.header === '' || spec.auth.env === '')) throw new Error('auth-header and auth-env go together')
  if (spec.protocol === 'kserve-v2') {
    if (!spec.output) throw new Error('kserve-v2 needs &output=NAME: the output tensor holding the scores (or the labels, as BYTES)')
    if (!spec.labels) throw new Error('kserve-v2 needs &labels=A,B,...: the labels in the order of the output scores')
  }
  if (spec.protocol === 'hf-inference' && spec.optional && !spec.labels) {
    throw new Error('hf-inference with optional=true needs &labels=A,B,...: they cannot be read from a server that may be down at start')
  }
}
