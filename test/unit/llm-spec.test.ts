/** `--llm` specs and prompt token counting (`src/llm/spec.ts`, `src/llm/tokens.ts`). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseLlmSpecs } from '../../src/llm/spec.js'
import { chatPromptTokens, inputTokens, promptCount, textCounter } from '../../src/llm/tokens.js'
import { loadConfig } from '../../src/config.js'

test('an --llm spec: base URL without trailing slash, upstream model, credential names, tokenizer', () => {
  const [spec] = parseLlmSpecs(
    'llama=http://127.0.0.1:8000/v1/?model=meta-llama/Llama-3.1-8B-Instruct&auth-header=Authorization&auth-env=VLLM_AUTH&tokenizer=cl100k_base',
  )
  assert.deepEqual(spec, {
    name: 'llama',
    baseUrl: 'http://127.0.0.1:8000/v1',
    upstreamModel: 'meta-llama/Llama-3.1-8B-Instruct',
    tokenizer: 'cl100k_base',
    maxConcurrency: 256,
    keyConcurrency: 128,
    auth: { header: 'Authorization', env: 'VLLM_AUTH' },
  })
  const [plain] = parseLlmSpecs('local=http://127.0.0.1:11434/v1')
  assert.deepEqual(plain, {
    name: 'local',
    baseUrl: 'http://127.0.0.1:11434/v1',
    upstreamModel: 'local',
    tokenizer: 'bytes',
    maxConcurrency: 256,
    keyConcurrency: 128,
  })
})

test('several specs, one per line or comma-separated', () => {
  assert.deepEqual(
    parseLlmSpecs('a=http://h:1/v1?model=x,b=http://h:2/v1\nc=http://h:3/v1').map((spec) => spec.name),
    ['a', 'b', 'c'],
  )
})

test('bad specs are refused with a message naming the problem', () => {
  const cases: [string, RegExp][] = [
    ['http://h/v1', /not NAME=URL/],
    ['Llama=http://h/v1', /not NAME=URL/],
    ['a=ftp://h/v1', /http\(s\) URL/],
    ['a=http://user:pw@h/v1', /holds a credential/],
    ['a=http://h/v1?temperature=1', /unknown option temperature/],
    ['a=http://h/v1?model=x&model=y', /given twice/],
    ['a=http://h/v1?auth-header=Authorization', /go together/],
    ['a=http://h/v1?auth-header=Bad%0AHeader&auth-env=X', /header name/],
    ['a=http://h/v1?auth-header=Authorization&auth-env=1X', /environment variable name/],
    ['a=http://h/v1?tokenizer=llama', /one of bytes, cl100k_base, o200k_base/],
    ['a=http://h/v1?model=bad%20name', /model name/],
    ['a=http://h/v1\na=http://h/v2', /two LLMs are named "a"/],
  ]
  for (const [raw, message] of cases) assert.throws(() => parseLlmSpecs(raw), message, raw)
})

test('the config names the flag of a bad --llm, --llm-limit or --llm-max-tokens', () => {
  assert.throws(() => loadConfig({ llms: 'x' }, {}), /invalid setting --llm: /)
  assert.throws(() => loadConfig({}, { INFERGATE_LLM_LIMIT: 'lots' }), /invalid setting INFERGATE_LLM_LIMIT: /)
  assert.throws(() => loadConfig({ llmMaxTokens: '0' }, {}), /--llm-max-tokens/)
  assert.deepEqual(loadConfig({ llmLimits: '100000/1d' }, {}).llmLimits, [{ name: 'day', limit: 100_000, windowMs: 86_400_000 }])
})

test('bytes count one token per UTF-8 byte; chat adds 4 per message and 3 for the answer', async () => {
  const bytes = await textCounter('bytes')
  assert.equal(bytes('héllo'), 6)
  assert.equal(chatPromptTokens({ messages: [{ role: 'user', content: 'abc' }] }, bytes), 4 + 3 + 4 + 3)
  const parts = {
    messages: [{ role: 'user', content: [{ type: 'text', text: 'ab' }] }],
    tools: [{ type: 'function', function: { name: 'f' } }],
  }
  // role 4, part type "text" 4 + "ab" 2, tool type "function" 8 + name "f" 1.
  assert.equal(chatPromptTokens(parts, bytes), 4 + 3 + 4 + 4 + 2 + 8 + 1)
  assert.equal(inputTokens([1, 2, 3], bytes), 3)
  assert.equal(inputTokens(['ab', 'c'], bytes), 3)
})

test("cl100k_base counts with OpenAI's tokenizer, never more than bytes for English", async () => {
  const cl100k = await textCounter('cl100k_base')
  assert.equal(cl100k('hello world'), 2)
  const o200k = await textCounter('o200k_base')
  assert.equal(o200k('hello world'), 2)
})

test('a BPE tokenizer counts at most 4 KiB of ASCII text per request exactly; past it, and for other text, bytes stand in', async () => {
  const cl100k = await textCounter('cl100k_base')
  const english = 'the quick brown fox jumps over the lazy dog '
  // 2 × 2,024 bytes of English: both exact.
  const two = inputTokens([english.repeat(46), english.repeat(46)], cl100k)
  assert.equal(two, 2 * cl100k(english.repeat(46)))
  assert.ok(two < (2 * 46 * english.length) / 3)
  // A third such text is past the 4,096-byte budget: counted in bytes, more than its tokens.
  assert.equal(inputTokens([english.repeat(46), english.repeat(46), english.repeat(46)], cl100k), two + 46 * english.length)
  // Non-ASCII text is never given to the tokenizer (js-tiktoken took ~50 s per MB of CJK here).
  const cjk = '映画'.repeat(1000)
  assert.equal(inputTokens(cjk, cl100k), Buffer.byteLength(cjk))
  assert.ok(cl100k(cjk) <= Buffer.byteLength(cjk), 'bytes never count fewer than the tokenizer')
  // Each request has its own budget.
  assert.equal(inputTokens([english.repeat(46), english.repeat(46)], cl100k), two)
})

test('how many prompts a completions prompt holds', () => {
  assert.equal(promptCount('a'), 1)
  assert.equal(promptCount(['a', 'b']), 2)
  assert.equal(promptCount([1, 2, 3]), 1)
  assert.equal(promptCount([[1], [2]]), 2)
})
