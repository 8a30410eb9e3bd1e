/**
 * `--model NAME=PATH[?max-batch=N&max-wait=MS&max-queue=N&cost=N]`: a Hugging Face export folder
 * to serve under NAME, with optional batching settings of its own and the units one text costs; or `--model NAME=URL?protocol=P`,
 * a model served by another server (see `remote/spec.ts`).
 */
import type { RemoteModelSpec } from './remote/spec.js'
import { isRemoteTarget, parseRemoteSpec } from './remote/spec.js'

export interface FolderModelSpec {
  name: string
  path: string
  /** Units of the limits one text costs (default 1). */
  cost?: number
  maxBatch?: number
  maxWaitMs?: number
  maxQueue?: number
}

export type ModelSpec = FolderModelSpec | RemoteModelSpec

/** True for a model served by another server. */
export function isRemoteSpec(spec: ModelSpec): spec is RemoteModelSpec {
  return 'url' in spec
}

const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/
const OPTIONS: Record<string, { key: 'maxBatch' | 'maxWaitMs' | 'maxQueue' | 'cost'; min: number; max: number }> = {
  'max-batch': { key: 'maxBatch', min: 1, max: 4096 },
  'max-wait': { key: 'maxWaitMs', min: 0, max: 1000 },
  'max-queue': { key: 'maxQueue', min: 1, max: 1_000_000 },
  cost: { key: 'cost', min: 1, max: 1_000_000 },
}

/** Parses one `NAME=PATH[?options]`; throws a readable message otherwise. */
export function parseModelSpec(raw: string): ModelSpec {
  const eq = raw.indexOf('=')
  const name = raw.slice(0, eq).trim()
  if (eq < 0 || !MODEL_NAME.test(name)) throw new Error(`"${raw}" is not NAME=PATH with a lower-case name such as sst2=./models/sst2`)
  const target = raw.slice(eq + 1).trim()
  if (isRemoteTarget(target)) {
    try {
      return parseRemoteSpec(name, target)
    } catch (error) {
      throw new Error(`model "${name}": ${(error as Error).message}`, { cause: error })
    }
  }
  const [path = '', query] = target.split('?', 2)
  if (path.trim() === '') throw new Error(`"${raw}": the path is empty`)
  const spec: FolderModelSpec = { name, path: path.trim() }
  for (const [option, value] of new URLSearchParams(query ?? '')) {
    const known = OPTIONS[option]
    const number = Number(value)
    if (!known) throw new Error(`"${raw}": unknown option ${option} (known: ${Object.keys(OPTIONS).join(', ')})`)
    if (!/^\d+$/.test(value) || number < known.min || number > known.max) throw new Error(`"${raw}": ${option} must be from ${known.min} to ${known.max}`)
    spec[known.key] = number
  }
  return spec
}

/** `a,b` → the model names a key may use. */
export function parseModelList(raw: string): string[] {
  const names = [...new Set(raw.split(',').map((name) => name.trim()).filter(Boolean))]
  if (names.length === 0) throw new Error('give at least one model name')
  for (const name of names) if (!MODEL_NAME.test(name)) throw new Error(`"${name}" is not a model name (lower-case letters, digits, . _ -)`)
  return names
}

/** The names of `names` that are not in `known`, each with a sentence naming the known ones. */
export function unknownModels(names: readonly string[], known: readonly string[]): { index: number; message: string }[] {
  return names.flatMap((name, index) =>
    known.includes(name) ? [] : [{ index, message: `unknown model "${name}" (known: ${known.join(', ')})` }],
  )
}

// A comma separates two specs only when a new NAME= follows it: a remote model's
// `labels=negative,positive` keeps its commas.
const SPEC_SEPARATOR = /\n|,(?=\s*[a-z0-9][a-z0-9._-]{0,63}=)/

/** Several specs, one per line or comma-separated; names must differ. */
export function parseModelSpecs(raw: string): ModelSpec[] {
  const specs = raw.split(SPEC_SEPARATOR).map((part) => part.trim()).filter(Boolean).map(parseModelSpec)
  const names = new Set<string>()
  for (const spec of specs) {
    if (names.has(spec.name)) throw new Error(`two models are named "${spec.name}"`)
    names.add(spec.name)
  }
  return specs
}
