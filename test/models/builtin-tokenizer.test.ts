import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Featurizer, padRow, tableRows, toVocabulary, wordRows, type FeatureSpec } from '../../src/models/builtin/features.js'
import { DEFAULT_NEGATION, NegationMarker } from '../../src/models/builtin/negation.js'
import { MAX_CHARS, MAX_TOKENS, fnv1a, tokenize, tokenizerSpec } from '../../src/models/builtin/tokenizer.js'

test('ordinary text is split the way the Penn Treebank split SST-2', () => {
  assert.deepEqual(tokenize("This movie wasn't good!"), ['this', 'movie', 'was', "n't", 'good', '!'])
  assert.deepEqual(tokenize("I can't believe it's THAT bad..."), ['i', 'ca', "n't", 'believe', 'it', "'s", 'that', 'bad', '...'])
  assert.deepEqual(tokenize("We're sure they'll say you'd like it, I'm"), ['we', "'re", 'sure', 'they', "'ll", 'say', 'you', "'d", 'like', 'it', ',', 'i', "'m"])
  assert.deepEqual(tokenize('Great (really), fun; sad: yes?'), ['great', '(', 'really', ')', ',', 'fun', ';', 'sad', ':', 'yes', '?'])
  assert.deepEqual(tokenize("The actors' work. Mr. Smith's best."), ['the', 'actors', "'", 'work', '.', 'mr.', 'smith', "'s", 'best', '.'])
  assert.deepEqual(tokenize('a coming-of-age tale -- 10,000 times, e.t. and j. lo'), [
    'a', 'coming-of-age', 'tale', '--', '10,000', 'times', ',', 'e.t.', 'and', 'j.', 'lo',
  ])
})

test('already tokenised SST-2 text comes out unchanged, PTB escapes become characters', () => {
  const sst = "it 's a charming and often affecting journey . ` solid ' `` great '' ... does n't"
  assert.deepEqual(tokenize(sst), sst.split(' '))
  assert.deepEqual(tokenize('-lrb- a -rrb- shapeless blob , funny\\/gritty'), ['(', 'a', ')', 'shapeless', 'blob', ',', 'funny/gritty'])
})

test('quotes and dashes take their PTB forms', () => {
  assert.deepEqual(tokenize('“Great” film — really'), ['``', 'great', "''", 'film', '--', 'really'])
  assert.deepEqual(tokenize('He said "fine" and didn’t'), ['he', 'said', '``', 'fine', "''", 'and', 'did', "n't"])
})

test('control characters are whitespace; unicode is NFKC-normalised and lower-cased', () => {
  assert.deepEqual(tokenize('Hello\u0000world\tfoo\nbar\u200bbaz\u2028qux'), ['hello', 'world', 'foo', 'bar', 'baz', 'qux'])
  assert.deepEqual(tokenize('ＦＵＬＬ width ﬁne… CAFÉ'), ['full', 'width', 'fine', '...', 'café'])
  assert.deepEqual(tokenize('loved it 😀😀!!'), ['loved', 'it', '😀', '😀', '!', '!'])
  assert.deepEqual(tokenize(''), [])
  assert.deepEqual(tokenize(' \u0007\r\n '), [])
})

test('very long text is cut to MAX_CHARS characters and MAX_TOKENS tokens', () => {
  assert.equal(tokenize('a '.repeat(10_000)).length, MAX_TOKENS)
  const long = tokenize('abcdefghij'.repeat(MAX_CHARS))
  assert.equal(long.length, 1)
  assert.equal(long[0]!.length, MAX_CHARS)
})

test('the fast path for ASCII text tokenises exactly like the general path', () => {
  const samples = [
    'He said "fine"... (really) -- isn\'t it?!',
    "rock 'n' roll, 10,000 times; r&d and b & w; e.t. vs. j. lo; mr. x. wasn't",
    '`` quoted \'\' -lrb- x -rrb- funny\\/gritty 5* *** a--b ... ....',
    'TABS\tand\r\nnewlines\u0000\u001f\u007f end.',
    "the actors' 'best' work.'",
  ]
  for (const text of samples) {
    // A trailing non-ASCII word sends the same text down the general (NFKC, Unicode) path.
    assert.deepEqual(tokenize(`${text} é`).slice(0, -1), tokenize(text), text)
  }
})

test('FNV-1a 32-bit over UTF-8 matches the published test vectors', () => {
  assert.equal(fnv1a(''), 0x811c9dc5)
  assert.equal(fnv1a('a'), 0xe40c292c)
  assert.equal(fnv1a('foobar'), 0xbf9cf968)
  assert.equal(fnv1a('é'), 0x1e9de8c1) // bytes c3 a9
  assert.equal(fnv1a('😀'), 0x33a29608) // bytes f0 9f 98 80
})

/** W = 1000, S = 5000, B = 7000: the padding row is 13000. */
const SMALL_SPEC: FeatureSpec = {
  hash: 'fnv1a-32',
  wordBuckets: 1000,
  subwordBuckets: 5000,
  bigramBuckets: 7000,
  subwordMinN: 3,
  subwordMaxN: 4,
  maxSlots: 24,
}

test('token slots: word row, bigram row with the next token, then character 3- and 4-grams of <token>', () => {
  const spec = SMALL_SPEC
  const sub = (gram: string): number => 1000 + (fnv1a(gram) % 5000)
  const bigram = (pair: string): number => 6000 + (fnv1a(pair) % 7000)
  const goodSubwords = [sub('<go'), sub('goo'), sub('ood'), sub('od>'), sub('<goo'), sub('good'), sub('ood>')]
  assert.deepEqual([...wordRows('good', spec)], [fnv1a('good') % 1000, ...goodSubwords])
  assert.deepEqual([...wordRows('a', spec)], [fnv1a('a') % 1000], '"<a>" is the whole token, not a sub-word')
  assert.equal(wordRows('supercalifragilistic', spec).length, 23)
  const [first, last] = new Featurizer(spec).slots(['good', 'a'])
  assert.deepEqual([...first!], [fnv1a('good') % 1000, bigram('good a'), ...goodSubwords])
  assert.deepEqual([...last!], [fnv1a('a') % 1000, bigram('a </s>')])
  assert.equal(padRow(spec), 13000)
})

test("pretrained and negated rows: after the padding row, the word's line in the vocabulary; a negated token drops its sub-words", () => {
  const spec: FeatureSpec = { ...SMALL_SPEC, maxSlots: 6, pretrainedWords: 3, negation: DEFAULT_NEGATION }
  const vocabulary = toVocabulary(['film', 'good', 'bad'])
  const sub = (gram: string): number => 1000 + (fnv1a(gram) % 5000)
  assert.equal(tableRows(spec), 13000 + 1 + 2 * 3)
  // good: word row, pretrained row 13001 + 1, then sub-words up to maxSlots - 1 rows.
  assert.deepEqual([...wordRows('good', spec, vocabulary)], [fnv1a('good') % 1000, 13002, sub('<go'), sub('goo'), sub('ood')])
  assert.deepEqual([...wordRows('good', spec)], [fnv1a('good') % 1000, sub('<go'), sub('goo'), sub('ood'), sub('od>')], 'no vocabulary, no pretrained row')
  assert.deepEqual([...wordRows('NOT_good', spec, vocabulary)], [fnv1a('NOT_good') % 1000, 13001 + 3 + 1])
  assert.deepEqual([...wordRows('NOT_meh', spec, vocabulary)], [fnv1a('NOT_meh') % 1000], 'no vector, no negated row')
  const slots = new Featurizer(spec, vocabulary).slots(['not', 'bad', ',', 'good'])
  assert.deepEqual(
    slots.map((s) => s[0]),
    ['not', 'NOT_bad', ',', 'good'].map((t) => fnv1a(t) % 1000),
  )
  assert.equal(slots[1]![2], 13001 + 3 + 2, 'bad inside the scope reads its negated row')
  assert.equal(slots[1]![1], 6000 + (fnv1a('NOT_bad ,') % 7000), 'bigrams read the marked tokens')
})

test('negation scopes: a cue opens one up to the end of the clause; a second cue closes it', () => {
  const marker = new NegationMarker(DEFAULT_NEGATION)
  const mark = (text: string): string => marker.mark(tokenize(text)).join(' ')
  assert.equal(mark('not bad at all'), 'not NOT_bad NOT_at NOT_all')
  assert.equal(mark("It isn't boring, it's great!"), "it is n't NOT_boring , it 's great !")
  assert.equal(mark('never dull but never brilliant either'), 'never NOT_dull but never NOT_brilliant NOT_either')
  assert.equal(mark('not without charm'), 'not without charm', 'double negation')
  assert.equal(mark('hardly enjoyable . a good cast'), 'hardly NOT_enjoyable . a good cast')
  assert.equal(mark('a good film'), 'a good film')
  assert.deepEqual(marker.mark([]), [])
  assert.equal(marker.negatedWord('NOT_bad'), 'bad')
  assert.equal(marker.negatedWord('bad'), undefined)
  // Tokens are lower case, so the marker can never be mistaken for a token's own text.
  assert.ok(tokenize('NOT_BAD NOT_good').every((token) => !token.startsWith(DEFAULT_NEGATION.marker)))
})

test('negation window: a scope marks at most `window` tokens; without one it runs to the clause end', () => {
  const marker = new NegationMarker({ ...DEFAULT_NEGATION, window: 2 })
  const mark = (text: string): string => marker.mark(tokenize(text)).join(' ')
  assert.equal(mark('not bad at all'), 'not NOT_bad NOT_at all')
  assert.equal(mark('not really good , not really'), 'not NOT_really NOT_good , not NOT_really')
  assert.equal(mark('no fun and no charm at all'), 'no NOT_fun NOT_and no NOT_charm NOT_at all', 'a new cue opens a new window')
  assert.equal(mark('not without charm'), 'not without charm', 'double negation')
  assert.equal(new NegationMarker(DEFAULT_NEGATION).mark(tokenize('not bad at all')).join(' '), 'not NOT_bad NOT_at NOT_all')
})

test('the tokenizer spec lists every regex step for the manifest', () => {
  const spec = tokenizerSpec()
  const steps = spec.steps as { name: string; pattern: string; flags: string }[]
  assert.ok(steps.length >= 10)
  for (const step of steps) assert.doesNotThrow(() => new RegExp(step.pattern, step.flags), step.name)
  assert.equal(spec.maxTokens, MAX_TOKENS)
})
