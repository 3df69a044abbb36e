import type { EndpointStatus } from '../core/endpoint.ts'

/** Figures every worker shows alike, because they come from the primary's one state, or that do not add up. */
const SHARED = new Set(['suspensions', 'suspendedForMs', 'sessions'])

/**
 * One endpoint view from the workers' views of the same config: counters (attempts, failures, served, in flight)
 * are summed; state, retry times and health come from the primary through each worker and are shown once.
 */
export function mergeWorkerViews(views: readonly EndpointStatus[][]): EndpointStatus[] {
  const [first = []] = views
  return first.map((_root, index) => mergeNode(views.map((roots) => roots[index]).filter((node) => node !== undefined)))
}

function mergeNode(nodes: readonly EndpointStatus[]): EndpointStatus {
  const merged: Record<string, unknown> = { ...nodes[0]! }
  for (const [field, value] of Object.entries(merged)) {
    const values = nodes.map((node) => node[field])
    if (field === 'children' && Array.isArray(value)) {
      merged[field] = value.map((_child, index) => mergeNode(values.map((children) => (children as EndpointStatus[])[index]!).filter(Boolean)))
    } else if (typeof value === 'number') {
      merged[field] = SHARED.has(field) ? Math.max(...values.map(Number)) : values.reduce((sum: number, v) => sum + Number(v ?? 0), 0)
    } else if (field === 'failures') {
      const sums: Record<string, number> = {}
      for (const counts of values as Array<Record<string, number>>) for (const [kind, n] of Object.entries(counts ?? {})) sums[kind] = (sums[kind] ?? 0) + n
      merged[field] = sums
    }
  }
  return merged as EndpointStatus
}
