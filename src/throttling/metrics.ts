import { Counter, Gauge, type Registry } from 'prom-client'

/** Throttling's own metrics; each process registers them once into its registry (see registerThrottlingMetrics). */
const decisions = new Counter({
  name: 'portico_throttling_decisions_total',
  help: 'Requests a rate-limit policy allowed or refused, by policy and outcome',
  labelNames: ['policy', 'outcome'],
  registers: [],
})
const storeErrors = new Counter({
  name: 'portico_throttling_store_errors_total',
  help: 'Takes the rate-limit store (Redis) could not answer in time; each fell back or failed closed',
  registers: [],
})
const storeUp = new Gauge({
  name: 'portico_throttling_store_up',
  help: '1 while the rate-limit store (Redis) answers, 0 during an outage',
  registers: [],
})

const children = new Map<string, { inc(): void }>()

export function countDecision(policy: string, allowed: boolean): void {
  const key = `${allowed ? 'a' : 'r'}\u0000${policy}`
  let child = children.get(key)
  if (!child) children.set(key, (child = decisions.labels(policy, allowed ? 'allowed' : 'refused')))
  child.inc()
}

export function countStoreError(): void {
  storeErrors.inc()
}

export function setStoreUp(up: boolean): void {
  storeUp.set(up ? 1 : 0)
}

/** Adds throttling's metrics to a process's registry (one registry holds them once). */
export function registerThrottlingMetrics(registry: Registry): void {
  const metrics: Array<[string, Counter<string> | Gauge<string>]> = [
    ['portico_throttling_decisions_total', decisions],
    ['portico_throttling_store_errors_total', storeErrors],
    ['portico_throttling_store_up', storeUp],
  ]
  for (const [name, metric] of metrics) if (!registry.getSingleMetric(name)) registry.registerMetric(metric)
}
