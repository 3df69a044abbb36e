import { LeastConnections } from './least-connections.ts'
import type { BalancingPolicy } from './policy.ts'
import { PowerOfTwoChoices } from './power-of-two.ts'
import { RoundRobin } from './round-robin.ts'
import type { BALANCING_ALGORITHMS } from './schema.ts'
import { WeightedRoundRobin } from './weighted-round-robin.ts'

/** What a policy is made from: the group's weights (when it has them) and its number of children. */
type PolicyFactory = (weights: readonly number[] | undefined, count: number) => BalancingPolicy

/**
 * Every balancing policy by the name the config gives it, as Caddy registers its modules: a new policy is one
 * entry here and one name in the schema's list, and the type below refuses a name without its policy.
 */
const POLICIES: Record<(typeof BALANCING_ALGORITHMS)[number], PolicyFactory> = {
  roundRobin: () => new RoundRobin(),
  weightedRoundRobin: (weights, count) => new WeightedRoundRobin(weights ?? Array.from({ length: count }, () => 1)),
  leastConnections: () => new LeastConnections(),
  powerOfTwoChoices: () => new PowerOfTwoChoices(),
}

export function createPolicy(algorithm: (typeof BALANCING_ALGORITHMS)[number], weights: readonly number[] | undefined, count: number): BalancingPolicy {
  return POLICIES[algorithm](weights, count)
}
