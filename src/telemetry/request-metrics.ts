import type { Metric, Registry } from 'prom-client'

/**
 * The counter and histograms every request updates, kept by the gateway and read by prom-client's Registry through
 * the same `get()` its own metrics answer, so /metrics and the workers' aggregation see no difference. A
 * prom-client child builds a string of all its labels and validates them on every update, and its histogram turns
 * the bucket's bound into a property name each time: some 10 % of the gateway's own instructions on a small GET.
 * Here a child holds its labels and numbers, and an update is an addition (and a search of 15 bounds).
 */

type Labels = Readonly<Record<string, string>>

/** One sample as the Registry formats it: `sharedLabels` follow `labels` in the line, as prom-client's histogram writes them. */
interface Sample {
  value: number
  labels: Record<string, string | number>
  metricName?: string
  sharedLabels?: Labels
}

interface MetricData {
  name: string
  help: string
  type: 'counter' | 'histogram'
  values: Sample[]
  aggregator: 'sum'
}

interface Config {
  name: string
  help: string
  registers: Registry[]
}

export class CounterChild {
  readonly labels: Labels
  value = 0

  constructor(labels: Labels) {
    this.labels = labels
  }

  inc(): void {
    this.value++
  }
}

export class RequestCounter {
  readonly name: string
  readonly help: string
  readonly type = 'counter'
  readonly aggregator = 'sum'
  readonly #children = new Map<string, CounterChild>()

  constructor(config: Config) {
    this.name = config.name
    this.help = config.help
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric)
  }

  /** The child for one set of label values (the same one each time for the same values); the caller keeps it. */
  child(labels: Labels): CounterChild {
    const key = childKey(labels)
    let child = this.#children.get(key)
    if (!child) this.#children.set(key, (child = new CounterChild(labels)))
    return child
  }

  async get(): Promise<MetricData> {
    const values = [...this.#children.values()].map((child) => ({ value: child.value, labels: { ...child.labels } }))
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  reset(): void {
    for (const child of this.#children.values()) child.value = 0
  }
}

export class HistogramChild {
  readonly labels: Labels
  readonly #bounds: readonly number[]
  /** Observations per bucket, not cumulative; one above the last bound counts only in `count`. */
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor(labels: Labels, bounds: readonly number[]) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    if (i < bounds.length) this.counts[i] = this.counts[i]! + 1
    this.sum += value
    this.count++
  }
}

export class RequestHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #children = new Map<string, HistogramChild>()

  constructor(config: Config & { buckets: readonly number[] }) {
    this.name = config.name
    this.help = config.help
    this.#bounds = config.buckets
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric)
  }

  /** The child for one set of label values (the same one each time for the same values); the caller keeps it. */
  child(labels: Labels): HistogramChild {
    const key = childKey(labels)
    let child = this.#children.get(key)
    if (!child) this.#children.set(key, (child = new HistogramChild(labels, this.#bounds)))
    return child
  }

  /** What the Registry writes as text: prom-client's histogram samples, cumulative buckets then +Inf, sum and count. */
  async getForPromString(): Promise<MetricData> {
    const bucket = `${this.name}_bucket`
    const values: Sample[] = []
    for (const child of this.#children.values()) {
      const sharedLabels = child.labels
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += child.counts[i]!
        values.push({ value: cumulative, labels: { le: this.#bounds[i]! }, metricName: bucket, sharedLabels })
      }
      values.push(
        { value: child.count, labels: { le: '+Inf' }, metricName: bucket, sharedLabels },
        { value: child.sum, labels: {}, metricName: `${this.name}_sum`, sharedLabels },
        { value: child.count, labels: {}, metricName: `${this.name}_count`, sharedLabels },
      )
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** What the workers' aggregation reads: the same samples with their labels in one object. */
  async get(): Promise<MetricData> {
    const data = await this.getForPromString()
    data.values = data.values.map(({ sharedLabels, ...sample }) => ({ ...sample, labels: { ...sample.labels, ...sharedLabels } }))
    return data
  }

  reset(): void {
    for (const child of this.#children.values()) {
      child.counts.fill(0)
      child.sum = 0
      child.count = 0
    }
  }
}

/** Tells children apart by their label values, once, when a child is asked for. */
function childKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels))
}
