import { Counter, Gauge, type Registry } from 'prom-client'
import type { Endpoint, EndpointStatus } from '../core/endpoint.ts'

const LEAF_STATES = ['active', 'timeout', 'suspended', 'unhealthy'] as const

/** What a guarded leaf's `describe()` adds, which these metrics read. */
interface LeafStatus extends EndpointStatus {
  attempts: number
  failures: Record<string, number>
  suspensions: number
}

/**
 * Endpoint metrics read from the endpoint trees at scrape time, so the request path pays nothing for them:
 * each leaf's state, its attempts, its failures by kind and its suspensions.
 */
export function registerEndpointMetrics(registry: Registry, roots: () => readonly Endpoint[]): void {
  const leaves = (): LeafStatus[] => {
    const seen = new Map<string, LeafStatus>()
    const walk = (status: EndpointStatus) => {
      if (typeof status['attempts'] === 'number') seen.set(status.id, status as LeafStatus)
      for (const child of status.children ?? []) walk(child)
    }
    for (const root of roots()) walk(root.describe())
    return [...seen.values()]
  }
  new Gauge({
    name: 'portico_endpoint_state',
    help: 'Each leaf endpoint state: 1 for the state it is in, 0 for the others',
    labelNames: ['endpoint', 'state'],
    registers: [registry],
    collect() {
      this.reset()
      for (const leaf of leaves()) for (const state of LEAF_STATES) this.set({ endpoint: leaf.id, state }, leaf.state === state ? 1 : 0)
    },
  })
  new Counter({
    name: 'portico_endpoint_attempts_total',
    help: 'Requests sent to each leaf endpoint',
    labelNames: ['endpoint'],
    registers: [registry],
    collect() {
      this.reset()
      for (const leaf of leaves()) this.inc({ endpoint: leaf.id }, leaf.attempts)
    },
  })
  new Counter({
    name: 'portico_endpoint_failures_total',
    help: 'Failed requests of each leaf endpoint, by failure kind',
    labelNames: ['endpoint', 'kind'],
    registers: [registry],
    collect() {
      this.reset()
      for (const leaf of leaves()) for (const [kind, count] of Object.entries(leaf.failures)) this.inc({ endpoint: leaf.id, kind }, count)
    },
  })
  new Counter({
    name: 'portico_endpoint_suspensions_total',
    help: 'Times each leaf endpoint was suspended',
    labelNames: ['endpoint'],
    registers: [registry],
    collect() {
      this.reset()
      for (const leaf of leaves()) this.inc({ endpoint: leaf.id }, leaf.suspensions)
    },
  })
}
