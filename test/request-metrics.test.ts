import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client'
import { RequestCounter, RequestHistogram } from '../src/telemetry/request-metrics.ts'

/** The same observations through prom-client's own metrics and through the gateway's, each in a registry of its own. */
async function bothRegistries(): Promise<[Registry, Registry]> {
  const theirs = new Registry()
  const ours = new Registry()
  const buckets = [0.001, 0.01, 0.1, 1]
  const histogram = new Histogram({ name: 'd_seconds', help: 'duration', labelNames: ['api', 'resource'], buckets, registers: [theirs] })
  const requestHistogram = new RequestHistogram({ name: 'd_seconds', help: 'duration', buckets, registers: [ours] })
  const counter = new Counter({ name: 'r_total', help: 'requests', labelNames: ['api', 'status'], registers: [theirs] })
  const requestCounter = new RequestCounter({ name: 'r_total', help: 'requests', registers: [ours] })
  const shop = requestHistogram.child({ api: 'shop:v1', resource: '/items/{id}' })
  // On a bound, between bounds, above the last one; and a label value that needs escaping.
  for (const seconds of [0.0005, 0.001, 0.05, 0.3, 2]) {
    histogram.labels('shop:v1', '/items/{id}').observe(seconds)
    shop.observe(seconds)
  }
  histogram.labels('say "hi"', '').observe(0.02)
  requestHistogram.child({ api: 'say "hi"', resource: '' }).observe(0.02)
  const ok = requestCounter.child({ api: 'shop:v1', status: '200' })
  for (let i = 0; i < 3; i++) {
    counter.labels('shop:v1', '200').inc()
    ok.inc()
  }
  return [theirs, ours]
}

test('the request counter and histograms read on /metrics exactly as prom-client writes its own', async () => {
  const [theirs, ours] = await bothRegistries()
  assert.equal(await ours.metrics(), await theirs.metrics())
})

test('workers aggregate them as prom-client aggregates its own', async () => {
  const [theirs, ours] = await bothRegistries()
  const aggregated = async (registry: Registry) => {
    const json = await registry.getMetricsAsJSON()
    return AggregatorRegistry.aggregate([json, structuredClone(json)]).metrics()
  }
  assert.equal(await aggregated(ours), await aggregated(theirs))
})
