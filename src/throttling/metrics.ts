import { Counter, Gauge, type Metric, type Registry } from 'prom-client'
import { RequestCounter } from '../telemetry/request-metrics.ts'

/** Throttling's own metrics; each process registers them once into its registry (see registerThrottlingMetrics). */
/** Counted on every request a policy applies to: the gateway's own counter, read by the registry as prom-client's. */
const decisions = new RequestCounter({
  name: 'portico_throttling_decisions_total',
  help: 'Requests a rate-limit policy allowed or refused, by policy and outcome',
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

/** A policy's two decision counters, looked up once when its filter is built, not per request. */
export function decisionCounters(policy: string): { allowed: { inc(): void }; refused: { inc(): void } } {
  return { allowed: decisions.child({ policy, outcome: 'allowed' }), refused: decisions.child({ policy, outcome: 'refused' }) }
}

export function countStoreError(): void {
  storeErrors.inc()
}

export function setStoreUp(up: boolean): void {
  storeUp.set(up ? 1 : 0)
}

/** Adds throttling's metrics to a process's registry (one registry holds them once). */
export function registerThrottlingMetrics(registry: Registry): void {
  const metrics: Array<[string, Metric | RequestCounter]> = [
    ['portico_throttling_decisions_total', decisions],
    ['portico_throttling_store_errors_total', storeErrors],
    ['portico_throttling_store_up', storeUp],
  ]
  for (const [name, metric] of metrics) if (!registry.getSingleMetric(name)) registry.registerMetric(metric as Metric)
}
