import type { BalancingPolicy } from './policy.ts'

/**
 * Smooth weighted round robin, as nginx does it: weights 5,1,1 give a a b a c a a, not a a a a a b c, so no
 * child gets a burst. Each pick adds every candidate's weight to its score, takes the highest score, and
 * lowers it by the candidates' total weight.
 */
export class WeightedRoundRobin implements BalancingPolicy {
  readonly #weights: readonly number[]
  readonly #scores: number[]

  constructor(weights: readonly number[]) {
    this.#weights = weights
    this.#scores = weights.map(() => 0)
  }

  select(candidates: readonly number[]): number {
    let total = 0
    let best = candidates[0]!
    for (const index of candidates) {
      const weight = this.#weights[index]!
      total += weight
      this.#scores[index]! += weight
      if (this.#scores[index]! > this.#scores[best]!) best = index
    }
    this.#scores[best]! -= total
    return best
  }
}
