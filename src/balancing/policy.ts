/**
 * Picks one child of a load-balance group. `candidates` holds the indices of the children that are ready and
 * not yet tried for this request, ascending and never empty; `load[i]` is child i's requests in flight.
 */
export interface BalancingPolicy {
  select(candidates: readonly number[], load: readonly number[]): number
}
