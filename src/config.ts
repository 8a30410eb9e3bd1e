/**
 * Configuration: command-line flags > `INFERGATE_*` environment variables > defaults.
 *
 * Every setting is declared once in `settings`: its flag, its environment variable, its
 * default and how to parse it. The CLI builds its options (and `--help`) from this table, and
 * `loadConfig` validates everything once at start-up and returns a frozen object.
 */
import { isIP } from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { LimitRule } from './ratelimit/policy.js'
import { parseRule, parseRules } from './ratelimit/policy.js'
import { parseDuration } from './lib/duration.js'
import type { LlmSpec } from './llm/spec.js'
import { parseLlmSpecs } from './llm/spec.js'
import type { ModelSpec } from './models/spec.js'
import { parseModelSpecs } from './models/spec.js'

/** Raised for an invalid setting; the CLI prints its one-line message and exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

interface Setting<T> {
  /** Long flag without dashes, e.g. `data-dir`. Booleans that default to true take `--no-<flag>`. */
  flag: string
  /** What the flag as written does: for a `--no-<flag>` switch, what turning it off does. */
  description: string
  default: T
  /** Text shown as the value placeholder in `--help`. */
  placeholder?: string
  /** The default as written on the command line, when it is not a plain value. */
  shown?: string
  /** The flag may be given several times; the values reach `parse` one per line. */
  repeatable?: boolean
  parse: (raw: string) => T
}

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

function integer(min: number, max: number) {
  return (raw: string): number => {
    const value = Number(raw)
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`must be an integer from ${min} to ${max}, got "${raw}"`)
    }
    return value
  }
}

/** A number from 0 to 1, e.g. `0.1`. */
function fraction(raw: string): number {
  const value = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) throw new Error(`must be a number from 0 to 1, got "${raw}"`)
  return value
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (raw: string): T => {
    if (!(choices as readonly string[]).includes(raw)) throw new Error(`must be one of ${choices.join(', ')}, got "${raw}"`)
    return raw as T
  }
}

function boolean(raw: string): boolean {
  const value = raw.trim().toLowerCase()
  if (['1', 'true', 'yes', 'on'].includes(value)) return true
  if (['0', 'false', 'no', 'off'].includes(value)) return false
  throw new Error(`must be true or false, got "${raw}"`)
}

function nonEmpty(raw: string): string {
  if (raw.trim() === '') throw new Error('must not be empty')
  return raw
}

/** An HTTP header name as RFC 9110 defines a token. */
function headerName(raw: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/.test(raw)) throw new Error(`must be a valid HTTP header name, got "${raw}"`)
  return raw
}

function limitList(raw: string): LimitRule[] {
  const rules = parseRules(
    raw
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  if (rules.length === 0) throw new Error('at least one limit such as 60/1m is required')
  return rules
}

function databaseUrl(raw: string): string {
  if (raw === '') return raw
  if (!/^postgres(ql)?:\/\/./.test(raw)) throw new Error('must be a PostgreSQL URL such as postgres://user@host:5432/db')
  return raw
}

function redisUrl(raw: string): string {
  if (raw === '') return raw
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new Error(`must be a URL such as redis://127.0.0.1:6379, got "${raw}"`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`must start with redis:// or rediss://, got "${raw}"`)
  return raw
}

/** Fastify's `trustProxy`: false, or the addresses/CIDRs of the proxies in front of infergate. */
type TrustProxy = false | string[]

// Named ranges understood by proxy-addr.
const PROXY_RANGES = ['loopback', 'linklocal', 'uniquelocal']

function trustProxy(raw: string): TrustProxy {
  const value = raw.trim()
  if (value === '' || value === 'false') return false
  const entries = value.split(',').map((entry) => entry.trim())
  for (const entry of entries) {
    if (PROXY_RANGES.includes(entry)) continue
    const [address, bits] = entry.split('/')
    const version = isIP(address ?? '')
    const maxBits = version === 4 ? 32 : 128
    if (version === 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) {
      throw new Error(`must be proxy addresses or CIDRs such as 10.0.0.0/8 or loopback, got "${entry}"`)
    }
  }
  return entries
}

/**
 * Browser origins allowed to call the API cross-origin: none (CORS closed, the default), or
 * exact origins such as `https://app.example.com` (scheme, host and optional port, no path).
 */
function corsOrigins(raw: string): string[] {
  const value = raw.trim()
  if (value === '') return []
  return value.split(',').map((entry) => {
    const origin = entry.trim()
    let url: URL | undefined
    try {
      url = new URL(origin)
    } catch {
      url = undefined
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== origin) {
      throw new Error(`must be origins such as https://app.example.com (scheme and host, no path or slash), got "${origin}"`)
    }
    return origin
  })
}

/** Receiver URLs for webhooks, one per `--webhook-url` (http or https, no credentials in them). */
function webhookUrls(raw: string): string[] {
  return raw
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      let url: URL | undefined
      try {
        url = new URL(entry)
      } catch {
        url = undefined
      }
      if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new Error(`must be http(s) URLs, got "${entry}"`)
      if (url.username || url.password) throw new Error(`must not hold credentials (the body is signed instead), got "${url.host}"`)
      return url.href
    })
}

/** The name of an environment variable. */
function envVariable(raw: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(raw)) throw new Error(`must be an environment variable name, got "${raw}"`)
  return raw
}

/** A duration in milliseconds: `90000`, or with a unit, `90s`, `15m`, `24h`. */
function durationMs(min: number, max: number) {
  return (raw: string): number => {
    const value = /^\d+$/.test(raw.trim()) ? Number(raw) : parseDuration(raw)
    if (value < min || value > max) throw new Error(`must be from ${min} ms to ${max} ms, got "${raw}"`)
    return value
  }
}

/** Byte sizes such as `1048576`, `512kb`, `1mb`. */
export function parseBytes(raw: string): number {
  const match = /^(\d+)\s*(b|kb|kib|mb|mib)?$/i.exec(raw.trim())
  if (!match) throw new Error(`must be a size such as 1048576, 512kb or 4mb, got "${raw}"`)
  const unit = (match[2] ?? 'b').toLowerCase()
  const factor = unit === 'b' ? 1 : unit.startsWith('k') ? 1024 : 1024 * 1024
  const value = Number(match[1]) * factor
  if (value < 1024 || value > 1024 * 1024 * 1024) throw new Error(`must be from 1kb to 1024mb, got "${raw}"`)
  return value
}

export const settings = {
  host: { flag: 'host', description: 'interface to listen on', default: '127.0.0.1', placeholder: 'host', parse: nonEmpty },
  port: {
    flag: 'port',
    description: 'TCP port to listen on (0 picks a free one)',
    default: 8000,
    placeholder: 'port',
    parse: integer(0, 65535),
  },
  dataDir: {
    flag: 'data-dir',
    description: 'directory of the embedded SQLite database (default: the nearest .infergate here or in a parent directory)',
    default: './.infergate',
    placeholder: 'dir',
    parse: nonEmpty,
  },
  databaseUrl: {
    flag: 'database-url',
    description: 'PostgreSQL for keys, jobs and audit shared by several instances (empty: SQLite in --data-dir)',
    default: '',
    placeholder: 'url',
    parse: databaseUrl,
  },
  apiKeyHeader: {
    flag: 'api-key-header',
    description: 'request header that carries the API key (Authorization: Bearer is accepted too)',
    default: 'X-API-Key',
    placeholder: 'name',
    parse: headerName,
  },
  maxBodyBytes: {
    flag: 'max-body-size',
    description: 'largest request body accepted (413 above it)',
    default: 1024 * 1024,
    placeholder: 'bytes',
    parse: parseBytes,
  },
  maxTextLength: {
    flag: 'max-text-length',
    description: 'longest text accepted, in characters (422 above it)',
    default: 10_000,
    placeholder: 'chars',
    parse: integer(1, 1_000_000),
  },
  bootstrap: {
    flag: 'bootstrap',
    description: 'do not create an admin key on an empty key store (by default the first start creates one and prints it once on stderr)',
    default: true,
    parse: boolean,
  },
  modelDir: {
    flag: 'model-dir',
    description: 'folder of the built-in sentiment model (model.onnx + manifest.json)',
    default: path.join(PROJECT_ROOT, 'models', 'sentiment'),
    shown: 'models/sentiment (in the package)',
    placeholder: 'dir',
    parse: nonEmpty,
  },
  models: {
    flag: 'model',
    description:
      'serve a Hugging Face text-classification export folder as NAME (repeatable): NAME=PATH[?max-batch=N&max-wait=MS&max-queue=N&cost=N]; or a model served by another server: NAME=URL?protocol=seed|kserve-v2|hf-inference[&...] (docs/remote-models.md)',
    default: [] as ModelSpec[],
    shown: '(none)',
    placeholder: 'name=path',
    repeatable: true,
    parse: parseModelSpecs,
  },
  llms: {
    flag: 'llm',
    description:
      'serve an OpenAI-compatible LLM server (vLLM, llama.cpp, Ollama, TGI) as NAME on /v1/chat/completions, /v1/completions and /v1/embeddings (repeatable): NAME=URL[?model=UPSTREAM_MODEL&auth-header=H&auth-env=VAR&tokenizer=bytes|cl100k_base|o200k_base&breaker-failures=N&breaker-cooldown=MS] (docs/llm-gateway.md)',
    default: [] as LlmSpec[],
    shown: '(none)',
    placeholder: 'name=url',
    repeatable: true,
    parse: parseLlmSpecs,
  },
  llmLimits: {
    flag: 'llm-limit',
    description: 'token limits of every key on the LLM routes, comma-separated (e.g. 100000/1d,minute=10000/1m); shown as tokens-<name>',
    default: [] as LimitRule[],
    shown: '(none)',
    placeholder: 'limits',
    parse: limitList,
  },
  llmOwnerLimits: {
    flag: 'llm-owner-limit',
    description: 'token limits shared by all keys of each owner on the LLM routes, comma-separated; shown as owner-tokens-<name>',
    default: [] as LimitRule[],
    shown: '(none)',
    placeholder: 'limits',
    parse: limitList,
  },
  llmMaxTokens: {
    flag: 'llm-max-tokens',
    description: 'max_tokens sent upstream (and reserved) when a chat or completions request gives none',
    default: 1024,
    placeholder: 'tokens',
    parse: integer(1, 1_000_000),
  },
  llmTimeoutMs: {
    flag: 'llm-timeout',
    description: "longest wait for an LLM server's first byte, and between two chunks of its answer",
    default: 300_000,
    shown: '5m',
    placeholder: 'duration',
    parse: durationMs(1000, 3_600_000),
  },
  defaultModel: {
    flag: 'default-model',
    description: 'the model POST /predict uses',
    default: 'sentiment',
    placeholder: 'name',
    parse: nonEmpty,
  },
  builtinModelCost: {
    flag: 'builtin-model-cost',
    description: 'units of the key and owner limits one text costs on the built-in model (--model NAME=PATH?cost=N for the others)',
    default: 1,
    placeholder: 'units',
    parse: integer(1, 1_000_000),
  },
  maxBatch: {
    flag: 'max-batch',
    description: 'most texts the model runs in one call (micro-batching)',
    default: 64,
    placeholder: 'n',
    parse: integer(1, 4096),
  },
  maxWaitMs: {
    flag: 'max-wait',
    description: 'milliseconds a request may wait for others to fill a batch',
    default: 0,
    placeholder: 'ms',
    parse: integer(0, 1000),
  },
  defaultLimits: {
    flag: 'default-limits',
    description: 'limits of keys that have none of their own, comma-separated (e.g. 60/1m,day=10000/1d)',
    default: [{ name: 'minute', limit: 60, windowMs: 60_000 }] as LimitRule[],
    shown: 'minute=60/1m',
    placeholder: 'limits',
    parse: limitList,
  },
  redisUrl: {
    flag: 'redis-url',
    description: 'Redis for limits shared by every instance (empty: in-memory limits, one process)',
    default: '',
    placeholder: 'url',
    parse: redisUrl,
  },
  ratelimitFail: {
    flag: 'ratelimit-fail',
    description: 'when Redis is unreachable: open (limit in memory meanwhile) or closed (answer 503)',
    default: 'open',
    placeholder: 'mode',
    parse: oneOf(['open', 'closed'] as const),
  },
  authFailLimit: {
    flag: 'auth-fail-limit',
    description: 'failed authentications allowed per client IP before it is refused with 429',
    default: { name: 'auth', limit: 20, windowMs: 60_000 },
    shown: '20/1m',
    placeholder: 'limit',
    parse: (raw: string) => ({ ...parseRule(raw), name: 'auth' }),
  },
  trustProxy: {
    flag: 'trust-proxy',
    description: 'proxies whose X-Forwarded-For is believed: comma-separated addresses, CIDRs or loopback (empty: none)',
    default: false,
    shown: '(none)',
    placeholder: 'cidrs',
    parse: trustProxy,
  },
  maxConnections: {
    flag: 'max-connections',
    description: 'most open client connections at once; connections beyond it are closed as soon as they are accepted (0: no cap)',
    default: 10_000,
    placeholder: 'n',
    parse: integer(0, 1_000_000),
  },
  corsOrigins: {
    flag: 'cors-origin',
    description: 'browser origins allowed to call the API (comma-separated, e.g. https://app.example.com); empty: CORS closed',
    default: [] as string[],
    shown: '(none)',
    placeholder: 'origins',
    parse: corsOrigins,
  },
  maxQueue: {
    flag: 'max-queue',
    description: 'most texts waiting per model; beyond it requests get 503 server_busy at once',
    default: 1024,
    placeholder: 'n',
    parse: integer(1, 1_000_000),
  },
  predictTimeoutMs: {
    flag: 'predict-timeout',
    description: 'milliseconds a prediction may take, queueing included, before 504 prediction_timeout',
    default: 10_000,
    placeholder: 'ms',
    parse: integer(1, 600_000),
  },
  maxTexts: {
    flag: 'max-texts',
    description: 'most texts in one {"texts": [...]} request',
    default: 256,
    placeholder: 'n',
    parse: integer(1, 100_000),
  },
  maxJobTexts: {
    flag: 'max-job-texts',
    description: 'most texts in one async job',
    default: 100_000,
    placeholder: 'n',
    parse: integer(1, 10_000_000),
  },
  maxJobBodyBytes: {
    flag: 'max-job-body-size',
    description: 'largest POST /v1/jobs body',
    default: 32 * 1024 * 1024,
    placeholder: 'bytes',
    parse: parseBytes,
  },
  maxJobsPerKey: {
    flag: 'max-jobs-per-key',
    description: 'most unfinished jobs one key may have (429 too_many_jobs beyond)',
    default: 10,
    placeholder: 'n',
    parse: integer(1, 10_000),
  },
  maxQueuedTextsPerKey: {
    flag: 'max-queued-texts-per-key',
    description: 'most texts not yet done in the unfinished jobs of one key (429 job_backlog_full beyond)',
    default: 200_000,
    placeholder: 'n',
    parse: integer(1, 100_000_000),
  },
  maxQueuedBytesPerKey: {
    flag: 'max-queued-bytes-per-key',
    description: 'most bytes of text in the unfinished jobs of one key (429 job_backlog_full beyond)',
    default: 64 * 1024 * 1024,
    shown: '64 MiB',
    placeholder: 'bytes',
    parse: parseBytes,
  },
  maxQueuedTextsPerOwner: {
    flag: 'max-queued-texts-per-owner',
    description: 'most texts not yet done in the unfinished jobs of all keys of one owner',
    default: 1_000_000,
    placeholder: 'n',
    parse: integer(1, 1_000_000_000),
  },
  maxQueuedBytesPerOwner: {
    flag: 'max-queued-bytes-per-owner',
    description: 'most bytes of text in the unfinished jobs of all keys of one owner',
    default: 256 * 1024 * 1024,
    shown: '256 MiB',
    placeholder: 'bytes',
    parse: parseBytes,
  },
  jobRetentionMs: {
    flag: 'job-retention',
    description: 'how long finished jobs and their results are kept (ms, or 24h, 7d)',
    default: 86_400_000,
    shown: '24h',
    placeholder: 'duration',
    parse: durationMs(1000, 366 * 86_400_000),
  },
  jobLeaseMs: {
    flag: 'job-lease',
    description: 'how long a worker holds a job between chunks before another may take it over (ms, or 30s)',
    default: 30_000,
    shown: '30s',
    placeholder: 'duration',
    parse: durationMs(500, 3_600_000),
  },
  webhookUrls: {
    flag: 'webhook-url',
    description:
      'send signed webhook events (key.expiring, key.revoked, key.rotated, credits.low, credits.exhausted, audit.verify_failed) to this URL (repeatable; docs/webhooks.md)',
    default: [] as string[],
    shown: '(none)',
    placeholder: 'url',
    repeatable: true,
    parse: webhookUrls,
  },
  webhookSecretEnv: {
    flag: 'webhook-secret-env',
    description: 'the environment variable holding the webhook signing secret (whsec_<base64>, at least 24 bytes)',
    default: 'INFERGATE_WEBHOOK_SECRET',
    placeholder: 'var',
    parse: envVariable,
  },
  webhookPollMs: {
    flag: 'webhook-poll',
    description: 'how often the store is looked at for webhook events to send (ms, or 1s)',
    default: 1000,
    shown: '1s',
    placeholder: 'duration',
    parse: durationMs(50, 60_000),
  },
  webhookTimeoutMs: {
    flag: 'webhook-timeout',
    description: 'how long a receiver has to answer 2xx before the attempt counts as failed (ms, or 10s)',
    default: 10_000,
    shown: '10s',
    placeholder: 'duration',
    parse: durationMs(100, 60_000),
  },
  webhookRetryMs: {
    flag: 'webhook-retry',
    description: 'delay before the first retry of a failed webhook; each next one waits 5 times longer, at most 10h (ms, or 5s)',
    default: 5000,
    shown: '5s',
    placeholder: 'duration',
    parse: durationMs(10, 3_600_000),
  },
  webhookAttempts: {
    flag: 'webhook-attempts',
    description: 'attempts per webhook delivery before it is given up',
    default: 8,
    placeholder: 'n',
    parse: integer(1, 50),
  },
  creditsLowFraction: {
    flag: 'credits-low-fraction',
    description: 'send credits.low when a credit balance falls below this fraction of its refill amount (0 to 1; 0: never)',
    default: 0.1,
    placeholder: 'fraction',
    parse: fraction,
  },
  audit: {
    flag: 'audit',
    description:
      'do not write the tamper-evident audit log, only to measure what it costs (by default every request and key change is audited)',
    default: true,
    parse: boolean,
  },
  auditBuffer: {
    flag: 'audit-buffer',
    description: 'most audit records waiting to be written; when full, requests get 503 until the log catches up',
    default: 10_000,
    placeholder: 'records',
    parse: integer(1, 10_000_000),
  },
  auditFlushMs: {
    flag: 'audit-flush-ms',
    description: 'milliseconds an audit record may wait before its batch is written',
    default: 50,
    placeholder: 'ms',
    parse: integer(1, 60_000),
  },
  metricsPublic: {
    flag: 'metrics-public',
    description: 'serve /metrics without a key (default: admin scope required)',
    default: false,
    parse: boolean,
  },
  logLevel: {
    flag: 'log-level',
    description: `log level: ${LOG_LEVELS.join(', ')}`,
    default: 'info',
    placeholder: 'level',
    parse: oneOf(LOG_LEVELS),
  },
  requestTimeoutMs: {
    flag: 'request-timeout',
    description: 'longest a client may take to send a whole request, headers and body (408 after; 0: no limit)',
    default: 60_000,
    shown: '60s',
    placeholder: 'duration',
    parse: durationMs(0, 3_600_000),
  },
  headersTimeoutMs: {
    flag: 'headers-timeout',
    description: 'longest a client may take to send the request headers (408 after); at most --request-timeout',
    default: 10_000,
    shown: '10s',
    placeholder: 'duration',
    parse: durationMs(100, 3_600_000),
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout',
    description: 'milliseconds to finish in-flight requests on SIGTERM before exiting anyway',
    default: 10_000,
    placeholder: 'ms',
    parse: integer(0, 600_000),
  },
} satisfies Record<string, Setting<unknown>>

export type SettingName = keyof typeof settings
export type Config = { readonly [K in SettingName]: ReturnType<(typeof settings)[K]['parse']> }

/** `dataDir` → `INFERGATE_DATA_DIR`. */
export function envName(name: SettingName): string {
  return `INFERGATE_${settings[name].flag.replace(/-/g, '_').toUpperCase()}`
}

/** Raw values as they come from flags: strings, or booleans for switches. */
export type RawSettings = Partial<Record<SettingName, string | number | boolean | undefined>>

/**
 * Builds the configuration from flags, then environment, then defaults. Throws `ConfigError`
 * naming the flag or the environment variable of the first invalid setting. `only` limits
 * which settings are read (the others keep their defaults).
 */
export function loadConfig(
  flags: RawSettings = {},
  env: NodeJS.ProcessEnv = process.env,
  only: readonly SettingName[] = Object.keys(settings) as SettingName[],
): Config {
  const config: Record<string, unknown> = {}
  for (const name of Object.keys(settings) as SettingName[]) {
    // Settings a command does not use keep their defaults, so a bad INFERGATE_PORT cannot
    // break `infergate keys list`.
    config[name] = only.includes(name) ? resolveSetting(name, flags[name], env[envName(name)]) : settings[name].default
  }
  return Object.freeze(config) as Config
}

function resolveSetting(name: SettingName, flag: RawSettings[SettingName], env: string | undefined): unknown {
  const setting: Setting<unknown> = settings[name]
  const raw = flag ?? env
  if (raw === undefined) return setting.default
  try {
    return setting.parse(String(raw))
  } catch (error) {
    const source = flag !== undefined ? `--${setting.flag}` : envName(name)
    throw new ConfigError(`invalid setting ${source}: ${(error as Error).message}`)
  }
}

/** The configuration with defaults only, with selected overrides: handy for tests. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return Object.freeze({ ...loadConfig({}, {}), ...overrides })
}
