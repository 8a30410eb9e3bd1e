/**
 * Text normalisation, Penn-Treebank-style tokenisation and hashed n-gram features for the
 * built-in sentiment model.
 *
 * SST-2 is lower-cased and PTB-tokenised (`it 's`, `does n't`, `-- `, `...`), while users send
 * ordinary text. `tokenize` turns both into the same tokens, so already-tokenised SST-2 text comes
 * out unchanged. Every step is a plain regular expression, listed by {@link tokenizerSpec} for the
 * manifest, so it can be re-implemented elsewhere; `docs/model.md` describes it in full.
 */

/** Longest input read, in UTF-16 code units; the rest is ignored (bounds the regex work). */
export const MAX_CHARS = 4096
/** Most tokens featurised; later tokens are ignored. */
export const MAX_TOKENS = 256

/** PTB escapes seen in SST-2 dev/test but not in train, mapped back to their characters. */
const PTB_ESCAPES: Record<string, string> = {
  '-lrb-': '(',
  '-rrb-': ')',
  '-lsb-': '[',
  '-rsb-': ']',
  '-lcb-': '{',
  '-rcb-': '}',
}

/** Words whose final period is part of the word, as PTB keeps them. */
const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'jr', 'sr', 'st', 'vs', 'etc', 'inc', 'prof'])

/** One replace step of {@link tokenize}: `text.replace(pattern, replacement)`. */
interface Step {
  name: string
  pattern: RegExp
  replacement: string | ((match: string, ...groups: string[]) => string)
  /** What a function replacement does, for the manifest. */
  explain?: string
  /** A cheap test that is true whenever `pattern` can match an ASCII text (speed only). */
  asciiMayMatch?: (text: string) => boolean
}

const CONTROL = /[\p{Cc}\p{Cf}\p{Z}]/gu
// For pure ASCII text, NFKC changes nothing and CONTROL matches exactly these characters.
// eslint-disable-next-line no-control-regex -- control characters are what these match
const NON_ASCII = /[^\x00-\x7f]/
// eslint-disable-next-line no-control-regex -- control characters are what these match
const ASCII_CONTROL = /[\x00-\x1f\x7f]/g
const never = (): boolean => false
const has =
  (needle: string) =>
  (text: string): boolean =>
    text.includes(needle)

/** The replace steps run after NFKC, CONTROL -> space and lower-casing, in this order. */
const STEPS: readonly Step[] = [
  { name: 'open-single-quote', pattern: /[\u2018\u201b]/g, replacement: '`', asciiMayMatch: never },
  { name: 'close-single-quote', pattern: /[\u2019\u2032\u00b4]/g, replacement: "'", asciiMayMatch: never },
  { name: 'open-double-quote', pattern: /[\u201c\u201f\u00ab]|(^|[\s([{<])"/g, replacement: '$1 `` ', asciiMayMatch: has('"') },
  { name: 'close-double-quote', pattern: /[\u201d\u2033\u00bb"]/g, replacement: " '' ", asciiMayMatch: has('"') },
  {
    name: 'ptb-bracket-escapes',
    pattern: /-[lr][rsc]b-/g,
    replacement: (m) => ` ${PTB_ESCAPES[m] ?? m} `,
    explain: 'the character it stands for, with a space on each side: -lrb- ( -rrb- ) -lsb- [ -rsb- ] -lcb- { -rcb- }',
    asciiMayMatch: has('b-'),
  },
  { name: 'ptb-slash-escapes', pattern: /\\([/*])/g, replacement: '$1', asciiMayMatch: has('\\') },
  { name: 'dashes', pattern: /[\u2013\u2014\u2015]|-{2,}/g, replacement: ' -- ', asciiMayMatch: has('--') },
  { name: 'ellipsis', pattern: /\.{2,}/g, replacement: ' ... ', asciiMayMatch: has('..') },
  {
    name: 'split-symbols',
    pattern: /[^\p{L}\p{M}\p{N}\s'.\-/*`,&]|(?<!\p{N}),|,(?!\p{N})|(?<!\p{L})&|&(?!\p{L})/gu,
    replacement: ' $& ',
  },
  {
    name: 'final-period',
    pattern: /(^|\s)([^\s.]+)\.(?=\s|$)/g,
    replacement: (m, space, word) => (keepsPeriod(word) ? m : `${space}${word} .`),
    explain: `"$1$2 ." unless $2 is one letter (\\p{L}) or one of: ${[...ABBREVIATIONS].join(' ')}`,
    asciiMayMatch: has('.'),
  },
  { name: 'backticks', pattern: /`+/g, replacement: ' $& ', asciiMayMatch: has('`') },
  { name: 'clitics', pattern: /([^'\s])(n't|'s|'m|'d|'re|'ve|'ll|')(?=\s|$)/g, replacement: '$1 $2', asciiMayMatch: has("'") },
]

/**
 * Splits text into lower-cased PTB tokens: the first {@link MAX_CHARS} code units, NFKC,
 * control/format/separator characters to spaces, lower case, then {@link STEPS} (quotes and dashes
 * to PTB forms, symbols split off, sentence periods and the clitics `n't 's 'm 'd 're 've 'll '`
 * split from their word), then split on spaces. At most {@link MAX_TOKENS} tokens.
 */
export function tokenize(text: string): string[] {
  let s = text.length > MAX_CHARS ? text.slice(0, MAX_CHARS) : text
  const ascii = !NON_ASCII.test(s)
  s = ascii ? s.replace(ASCII_CONTROL, ' ') : s.normalize('NFKC').replace(CONTROL, ' ')
  s = s.toLowerCase()
  for (const step of STEPS) {
    if (ascii && step.asciiMayMatch?.(s) === false) continue
    s = typeof step.replacement === 'string' ? s.replace(step.pattern, step.replacement) : s.replace(step.pattern, step.replacement)
  }
  // Every whitespace character became a plain space above, so splitting on ' ' is enough.
  const tokens: string[] = []
  for (const token of s.split(' ')) {
    if (token === '') continue
    tokens.push(token)
    if (tokens.length === MAX_TOKENS) break
  }
  return tokens
}

/** A JSON description of {@link tokenize}, precise enough to re-implement it (for the manifest). */
export function tokenizerSpec(): Record<string, unknown> {
  const regex = (r: RegExp): { pattern: string; flags: string } => ({ pattern: r.source, flags: r.flags })
  return {
    type: 'ptb-lowercase',
    maxChars: MAX_CHARS,
    maxTokens: MAX_TOKENS,
    normalize: 'NFKC',
    control: { ...regex(CONTROL), replacement: ' ' },
    lowercase: 'Unicode default case mapping (String.prototype.toLowerCase, locale-independent)',
    steps: STEPS.map((step) => ({
      name: step.name,
      ...regex(step.pattern),
      replacement: typeof step.replacement === 'string' ? step.replacement : step.explain,
    })),
    split: 'on runs of spaces (every whitespace character is a space by now), dropping empty tokens',
  }
}

/** Initials (`j.`) and a few abbreviations keep their period, as in PTB. */
function keepsPeriod(word: string): boolean {
  return ABBREVIATIONS.has(word) || (word.length === 1 && /\p{L}/u.test(word))
}

/** FNV-1a 32-bit offset basis and prime. */
const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** FNV-1a 32-bit hash of the UTF-8 bytes of `text` (lone surrogates as U+FFFD), unsigned. */
export function fnv1a(text: string): number {
  return fnv1aContinue(FNV_OFFSET, text)
}

/** Continues an FNV-1a hash over `text`: `fnv1aContinue(fnv1a('a'), ' b') === fnv1a('a b')`. */
export function fnv1aContinue(state: number, text: string): number {
  let h = state
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i)
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME)
      continue
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1)
      if (low >= 0xdc00 && low <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00)
        i += 1
      }
    }
    h = feedCodePoint(h, c)
  }
  return h >>> 0
}

/** FNV-1a 32-bit hash of the UTF-8 encoding of `codePoints[start..end)`, unsigned. */
export function fnv1aCodePoints(codePoints: readonly number[], start: number, end: number): number {
  let h = FNV_OFFSET
  const stop = Math.min(end, codePoints.length)
  for (let i = start; i < stop; i++) h = feedCodePoint(h, codePoints[i]!)
  return h >>> 0
}

/** One FNV-1a step per UTF-8 byte of code point `c` (surrogates encode as U+FFFD). */
function feedCodePoint(state: number, codePoint: number): number {
  const c = codePoint >= 0xd800 && codePoint <= 0xdfff ? 0xfffd : codePoint
  let h = state
  if (c < 0x80) return Math.imul(h ^ c, FNV_PRIME)
  if (c < 0x800) {
    h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME)
  } else if (c < 0x10000) {
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME)
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME)
  } else {
    h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME)
    h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME)
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME)
  }
  return Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME)
}
