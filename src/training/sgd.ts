/**
 * The loop of plain one-example-at-a-time SGD shared by the bag (`bag.ts`) and the NB-LR member
 * (`linear.ts`): `epochs` passes over the examples, each in a fresh shuffled order drawn from
 * `random`, with a learning rate decaying linearly from `learningRate` to 0 over all
 * `epochs × examples` steps (as fastText does).
 */
import { shuffleInPlace } from './random.js'

/** Calls `step(example, rate)` once per example per epoch; see the module comment. */
export function sgdSteps<T>(
  examples: readonly T[],
  hp: { epochs: number; learningRate: number },
  random: () => number,
  step: (example: T, rate: number) => void,
): void {
  const order = examples.map((_, i) => i)
  const total = hp.epochs * examples.length
  let done = 0
  for (let epoch = 0; epoch < hp.epochs; epoch++) {
    shuffleInPlace(order, random)
    for (const index of order) {
      const rate = hp.learningRate * (1 - done / total)
      done += 1
      step(examples[index]!, rate)
    }
  }
}
