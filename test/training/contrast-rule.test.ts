import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CnnHyperParameters } from '../../src/training/cnn.js'
import type { EncodedExample } from '../../src/training/dataset.js'
import { contrastClauseStart, contrastTarget, DEFAULT_CONTRAST_RULE, teacherShare } from '../../src/training/contrast.js'
import { packExamples, trainMember, type MemberJob } from '../../src/training/train-member.js'

const words = (text: string): string[] => text.split(' ')

test('clause B is what follows the last contrast cue, or the first comma after a leading cue', () => {
  const but = DEFAULT_CONTRAST_RULE
  assert.equal(contrastClauseStart(words('i expected to hate it , but loved it .'), but), 7)
  assert.equal(contrastClauseStart(words('slow but steady but dull'), but), 4, 'the last "but" decides')
  assert.equal(contrastClauseStart(words('but it is fun'), but), -1, 'no clause A')
  assert.equal(contrastClauseStart(words('everything but'), but), -1, 'no clause B')
  assert.equal(contrastClauseStart(words('a fine film'), but), -1)
  assert.equal(contrastClauseStart(words('the cast is good , yet the plot drags'), but), -1, 'only the cues asked for')
  const wide = { cues: ['but', 'yet'], leadingCues: ['although'] }
  assert.equal(contrastClauseStart(words('the cast is good , yet the plot drags'), wide), 6)
  assert.equal(contrastClauseStart(words('although the cast is good , the plot drags'), wide), 6)
  assert.equal(contrastClauseStart(words('although the cast is good'), wide), -1)
})

test('the teacher projects p towards clause B (Hu et al. 2016), with a share rising as min(π0, 1 − decay^t)', () => {
  assert.equal(contrastTarget(1, 0.7, 0.1, 6, 0), 1, 'π = 0: the label alone')
  // π = 1: q(positive) = p1 e^{C b1} / (p1 e^{C b1} + p0 e^{C b0}).
  const [p1, b1, c] = [0.7, 0.1, 6]
  const q1 = (p1 * Math.exp(c * b1)) / (p1 * Math.exp(c * b1) + (1 - p1) * Math.exp(c * (1 - b1)))
  assert.ok(Math.abs(contrastTarget(1, p1, b1, c, 1) - q1) < 1e-12)
  assert.ok(q1 < 0.1, 'a negative clause B pulls a positive-looking sentence down')
  assert.ok(Math.abs(contrastTarget(0, p1, b1, c, 0.25) - 0.25 * q1) < 1e-12)
  assert.ok(Math.abs(contrastTarget(1, 0.3, 0.5, c, 1) - 0.3) < 1e-12, 'an undecided clause B leaves p as it is')
  assert.equal(teacherShare(DEFAULT_CONTRAST_RULE, 0), 0)
  assert.ok(Math.abs(teacherShare(DEFAULT_CONTRAST_RULE, 2) - (1 - 0.95 ** 2)) < 1e-12)
  assert.equal(teacherShare({ ...DEFAULT_CONTRAST_RULE, decay: 0.1, piMax: 0.6 }, 3), 0.6)
})

// Tokens are their own single table row: 0 good, 1 bad, 2 film, 3 plot, 4 but, 5 great, 6 dull, 7 the.
const example = (label: number, tokens: number[], clause = -1): EncodedExample => ({ label, tokens: Int32Array.from(tokens), clause })
const PLAIN = [
  example(1, [0, 2]),
  example(0, [1, 2]),
  example(1, [5, 3]),
  example(0, [6, 3]),
  example(1, [7, 0, 3]),
  example(0, [7, 6, 2]),
  example(1, [7, 5, 2]),
  example(0, [7, 1, 3]),
]
// Labelled against their clause B, as the rule would not have it: "good film but dull plot" positive.
const CONTRAST = [
  example(1, [0, 2, 4, 6, 3], 3),
  example(0, [1, 2, 4, 5, 3], 3),
  example(1, [5, 3, 4, 1, 2], 3),
  example(0, [6, 3, 4, 0, 2], 3),
]
const HP: CnnHyperParameters = {
  dim: 8,
  maps: 6,
  widths: [2, 3],
  dropout: 0,
  wordDropout: 0,
  learningRate: 0.02,
  batchSize: 4,
  epochs: 40,
  rootEpochs: 0,
  rootLearningRate: 0.2,
  initScale: 0.1,
}

/** Probability of the labelled class on `CONTRAST` after training on PLAIN + CONTRAST. */
function labelledProbability(hp: CnnHyperParameters, clauses = true): number[] {
  const strip = (e: EncodedExample): EncodedExample => (clauses ? e : { label: e.label, tokens: e.tokens })
  const job: MemberJob = {
    member: 0,
    seed: 3,
    subwords: true,
    rows: 8,
    hyperParameters: hp,
    rowOffsets: Int32Array.from({ length: 9 }, (_, i) => i),
    rowData: Int32Array.from({ length: 8 }, (_, i) => i),
    train: packExamples([...PLAIN, ...CONTRAST].map(strip)),
    trainRoots: packExamples([]),
    heldOut: packExamples(CONTRAST.map(strip)),
  }
  const { heldOutLogits: logits } = trainMember(job, () => {})
  return CONTRAST.map((e, i) => 1 / (1 + Math.exp(logits[i * 2 + 1 - e.label]! - logits[i * 2 + e.label]!)))
}

test('with the contrast rule the CNN learns that clause B decides, against labels that say otherwise', () => {
  const plain = labelledProbability(HP)
  const rule = { ...DEFAULT_CONTRAST_RULE, piMax: 0.9, decay: 0.5 }
  const distilled = labelledProbability({ ...HP, contrast: rule })
  plain.forEach((p, i) => {
    assert.ok(p > 0.9, `without the rule the labels are learnt (${p})`)
    assert.ok(distilled[i]! < p - 0.3, `the rule pulls towards clause B: ${distilled[i]} vs ${p}`)
  })
  // Texts without a clause B train exactly as without the rule.
  assert.deepEqual(labelledProbability({ ...HP, contrast: rule }, false), plain)
})
