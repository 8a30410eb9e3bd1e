/**
 * `--llm NAME=URL[?model=UPSTREAM_MODEL&auth-header=H&auth-env=VAR&tokenizer=T&…]`: an
 * OpenAI-compatible upstream (vLLM, llama.cpp's server, Ollama, TGI, a hosted API). URL is the
 * upstream's OpenAI base URL (what its own clients use as `baseURL`, e.g.
 * `http://127.0.0.1:8000/v1`). As for remote models, the credential is never part of the spec:
 * only the header that carries it and the environment variable that holds its whole value.
 */
import { checkedUrl } from '../models/remote/spec.js'
import { TOKENIZERS, type TokenizerName } from './tokens.js'

export interface LlmSpec {
  /** The name clients send as `model`. */
  name: string
  /** The upstream's OpenAI base URL, without a trailing slash. */
  baseUrl: string
  /** The model name sent upstream (default: `name`). */
  upstreamModel: string
  /** The header that carries the upstream credential, and the variable holding its whole value. */
  auth?: { header: string; env: string }
  /** How prompts are counted before the call (`tokens.ts`); default `bytes`. */
  tokenizer: TokenizerName
  /** Consecutive failures that open the circuit breaker (`health.ts`; default 5). */
  breakerFailures?: number
  /** How long it stays open before its first probe, in ms (default 5000; doubled after a failed probe, up to 60 s). */
  breakerCooldownMs?: number
  /** Calls in flight at once from this instance (`slots.ts`; default 256). */
  maxConcurrency: number
  /** Calls in flight at once for one key (default: half of `maxConcurrency`, rounded up). */
  keyConcurrency: number
}

// As many as the connection pool keeps to one server (`upstream.ts`): beyond, calls would only queue there.
const DEFAULT_MAX_CONCURRENCY = 256

const NAME = /^[a-z0-9][a-z0-9._:-]{0,127}$/
// What a model server calls its model: Ollama's `llama3:8b`, Hugging Face's `org/model`.
const UPSTREAM_MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,255}$/
const HEADER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const ENV = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/
const OPTIONS = [
  'model',
  'auth-header',
  'auth-env',
  'tokenizer',
  'breaker-failures',
  'breaker-cooldown',
  'max-concurrency',
  'key-concurrency',
] as const

// The options that are whole numbers: their range and the field they set (the same ranges as a
// remote model's, `models/remote/spec.ts`).
const WHOLE_NUMBERS = {
  'breaker-failures': { min: 1, max: 1000, field: 'breakerFailures' },
  'breaker-cooldown': { min: 100, max: 3_600_000, field: 'breakerCooldownMs' },
  'max-concurrency': { min: 1, max: 1024, field: 'maxConcurrency' },
  'key-concurrency': { min: 1, max: 1024, field: 'keyConcurrency' },
} as const

/** A whole number from `min` to `max` written in decimal; otherwise throws `fail(…)`. */
function wholeIn(value: string, min: number, max: number, fail: (what: string) => Error): number {
  if (!/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max) throw fail(`must be a whole number from ${min} to ${max}`)
  return Number(value)
}

/** Parses one `NAME=URL?options`; throws a readable message otherwise. */
function parseLlmSpec(raw: string): LlmSpec {
  const eq = raw.indexOf('=')
  const name = eq < 0 ? '' : raw.slice(0, eq).trim()
  if (!NAME.test(name)) throw new Error(`"${raw}" is not NAME=URL with a lower-case NAME (letters, digits, . _ : -)`)
  const target = raw.slice(eq + 1).trim()
  if (!/^https?:\/\//i.test(target)) throw new Error(`${name}: the upstream must be an http(s) URL such as http://127.0.0.1:8000/v1`)
  const at = target.indexOf('?')
  const baseUrl = checkedUrl(at < 0 ? target : target.slice(0, at)).replace(/\/+$/, '')
  const params = new URLSearchParams(at < 0 ? '' : target.slice(at + 1))
  const spec: LlmSpec = {
    name,
    baseUrl,
    upstreamModel: name,
    tokenizer: 'bytes',
    maxConcurrency: DEFAULT_MAX_CONCURRENCY,
    keyConcurrency: 0,
  }
  const seen = new Set<string>()
  for (const [key, value] of params) {
    if (!(OPTIONS as readonly string[]).includes(key)) throw new Error(`${name}: unknown option ${key} (known: ${OPTIONS.join(', ')})`)
    if (seen.has(key)) throw new Error(`${name}: option ${key} is given twice`)
    seen.add(key)
    setOption(spec, key as (typeof OPTIONS)[number], value)
  }
  const header = params.get('auth-header')
  const env = params.get('auth-env')
  if ((header === null) !== (env === null)) throw new Error(`${name}: auth-header and auth-env go together`)
  if (header !== null && env !== null) spec.auth = { header, env }
  if (spec.keyConcurrency === 0) spec.keyConcurrency = Math.ceil(spec.maxConcurrency / 2)
  if (spec.keyConcurrency > spec.maxConcurrency)
    throw new Error(`${name}: key-concurrency must not exceed max-concurrency (${spec.maxConcurrency})`)
  return spec
}

function setOption(spec: LlmSpec, key: (typeof OPTIONS)[number], value: string): void {
  const fail = (what: string) => new Error(`${spec.name}: ${key} ${what}`)
  switch (key) {
    case 'model':
      if (!UPSTREAM_MODEL.test(value)) throw fail('must be a model name such as llama3:8b or org/model')
      spec.upstreamModel = value
      return
    case 'auth-header':
      if (!HEADER.test(value)) throw fail('must be a header name such as Authorization')
      return
    case 'auth-env':
      if (!ENV.test(value)) throw fail('must be an environment variable name such as VLLM_API_KEY')
      return
    case 'tokenizer':
      if (!(TOKENIZERS as readonly string[]).includes(value)) throw fail(`must be one of ${TOKENIZERS.join(', ')}`)
      spec.tokenizer = value as TokenizerName
      return
    default: {
      const { min, max, field } = WHOLE_NUMBERS[key]
      spec[field] = wholeIn(value, min, max, fail)
    }
  }
}

/** Several specs, one per line (repeated flags) or comma-separated; names must differ. */
export function parseLlmSpecs(raw: string): LlmSpec[] {
  const specs = raw
    .split(/\n|,(?=\s*[a-z0-9][a-z0-9._:-]{0,127}=https?:)/)
    .map((part) => part.trim())
    .filter(Boolean)
    .map(parseLlmSpec)
  const names = new Set<string>()
  for (const spec of specs) {
    if (names.has(spec.name)) throw new Error(`two LLMs are named "${spec.name}"`)
    names.add(spec.name)
  }
  return specs
}
