import type { BalancingPolicy } from './policy.ts'

/**
 * Power of two choices: two different children at random, the one with fewer requests in flight. Nearly as
 * good as least connections, without every gateway worker herding onto the same idle child.
 */
export class PowerOfTwoChoices implements BalancingPolicy {
  readonly #random: () => number

  constructor(random: () => number = Math.random) {
    this.#random = random
  }

  select(candidates: readonly number[], load: readonly number[]): number {
    if (candidates.length === 1) return candidates[0]!
    const first = Math.floor(this.#random() * candidates.length)
    const second = (first + 1 + Math.floor(this.#random() * (candidates.length - 1))) % candidates.length
    const a = candidates[first]!
    const b = candidates[second]!
    return load[b]! < load[a]! ? b : a
  }
}
