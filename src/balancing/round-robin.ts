import type { BalancingPolicy } from './policy.ts'

/** Each child in turn; a child that is not ready is skipped without disturbing the order of the rest. */
export class RoundRobin implements BalancingPolicy {
  #next = 0

  select(candidates: readonly number[]): number {
    const chosen = candidates.find((index) => index >= this.#next) ?? candidates[0]!
    this.#next = chosen + 1
    return chosen
  }
}
