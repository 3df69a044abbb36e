import type { BalancingPolicy } from './policy.ts'

/**
 * The child with the fewest requests in flight (requests, not connections: a pooled connection carries one
 * request at a time, and requests are what the group can count). Ties go round robin, so an idle group still
 * spreads its traffic.
 */
export class LeastConnections implements BalancingPolicy {
  #turn = 0

  select(candidates: readonly number[], load: readonly number[]): number {
    let fewest = Number.POSITIVE_INFINITY
    for (const index of candidates) fewest = Math.min(fewest, load[index]!)
    const tied = candidates.filter((index) => load[index] === fewest)
    return tied[this.#turn++ % tied.length]!
  }
}
