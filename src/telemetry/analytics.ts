/**
 * Traffic analytics kept in memory: request counts, errors by code and latency percentiles per API, resource and
 * application, over the last hour by minute and the last week by hour. Written by hand: prom-client's histograms
 * have no time windows and no percentiles, and the OpenTelemetry metrics SDK keeps no history; what is needed is a
 * ring of time slots per series, each with a fixed log-scale latency histogram (as HdrHistogram does, coarser).
 */

/** Upper bounds of the latency buckets in ms: 0.25 ms times 1.25^i, so a percentile is within 25 % of the truth. */
const BOUNDS_MS: readonly number[] = Array.from({ length: 60 }, (_, i) => 0.25 * 1.25 ** i)
/** Above the last bound (about 131 s). */
const OVERFLOW = BOUNDS_MS.length

/** The two windows: what a point covers and how many points are kept. */
export const WINDOWS = {
  hour: { slotMs: 60_000, slots: 60 },
  week: { slotMs: 3_600_000, slots: 168 },
} as const
export type WindowName = keyof typeof WINDOWS

/** Who a series counts: the API, resource and consuming application a request had (each '' when it had none). */
export interface SeriesKey {
  api: string
  resource: string
  application: string
}

/** One time slot of one series, as plain data (a worker sends it to the primary, which adds them up). */
export interface SlotData {
  start: number
  requests: number
  errors: Record<string, number>
  /** Requests per latency bucket (see BOUNDS_MS), the last one for anything slower. */
  latency: number[]
}

export interface SeriesData extends SeriesKey {
  windows: Record<WindowName, SlotData[]>
}

/** Series beyond `maxSeries` are counted together under this name, so memory stays bounded whatever the traffic. */
export const OTHER = '(other)'

class Slot implements SlotData {
  start: number
  requests = 0
  errors: Record<string, number> = {}
  latency: number[] = new Array<number>(OVERFLOW + 1).fill(0)

  constructor(start: number) {
    this.start = start
  }
}

class Series {
  readonly key: SeriesKey
  readonly windows: Record<WindowName, (Slot | undefined)[]> = {
    hour: new Array<Slot | undefined>(WINDOWS.hour.slots),
    week: new Array<Slot | undefined>(WINDOWS.week.slots),
  }

  constructor(key: SeriesKey) {
    this.key = key
  }

  record(now: number, ms: number, error: string | undefined): void {
    const bucket = latencyBucket(ms)
    for (const name of ['hour', 'week'] as const) {
      const { slotMs, slots } = WINDOWS[name]
      const start = now - (now % slotMs)
      const ring = this.windows[name]
      const index = Math.floor(now / slotMs) % slots
      let slot = ring[index]
      // A slot a full turn old is reused for the new period.
      if (slot === undefined || slot.start !== start) ring[index] = slot = new Slot(start)
      slot.requests++
      slot.latency[bucket]!++
      if (error !== undefined) slot.errors[error] = (slot.errors[error] ?? 0) + 1
    }
  }
}

function latencyBucket(ms: number): number {
  if (ms <= BOUNDS_MS[0]!) return 0
  // log base 1.25 of ms / 0.25, rounded up: the first bound not below ms.
  const index = Math.ceil(Math.log(ms / 0.25) / Math.log(1.25) - 1e-9)
  return index >= OVERFLOW ? OVERFLOW : index
}

/** The analytics of one process. */
export class TrafficAnalytics {
  readonly #maxSeries: number
  readonly #series = new Map<string, Series>()

  constructor(maxSeries: number) {
    this.#maxSeries = maxSeries
  }

  /** Counts one answered request; `error` is its gateway error code, or its status when the backend failed it. */
  record(api: string, resource: string, application: string, ms: number, error: string | undefined, now = Date.now()): void {
    const id = `${api}\u0000${resource}\u0000${application}`
    let series = this.#series.get(id)
    if (series === undefined) {
      if (this.#series.size >= this.#maxSeries) return this.#other().record(now, ms, error)
      series = new Series({ api, resource, application })
      this.#series.set(id, series)
    }
    series.record(now, ms, error)
  }

  /** The slots still inside their window, as plain data. */
  dump(now = Date.now()): SeriesData[] {
    const out: SeriesData[] = []
    for (const series of this.#overflow ? [...this.#series.values(), this.#overflow] : this.#series.values()) {
      const windows = {} as Record<WindowName, SlotData[]>
      for (const name of ['hour', 'week'] as const) windows[name] = series.windows[name].filter((slot) => slot !== undefined && inWindow(name, slot.start, now)) as Slot[]
      out.push({ ...series.key, windows })
    }
    return out
  }

  /** Kept outside the map, so that the map holds `maxSeries` entries at most. */
  #overflow: Series | undefined

  #other(): Series {
    return (this.#overflow ??= new Series({ api: OTHER, resource: OTHER, application: OTHER }))
  }
}

function inWindow(name: WindowName, start: number, now: number): boolean {
  const { slotMs, slots } = WINDOWS[name]
  return start > now - slotMs * slots
}

/** What `/admin/analytics` may be asked: a window and, optionally, one API, resource or application. */
export interface AnalyticsQuery {
  window: WindowName
  api?: string | undefined
  resource?: string | undefined
  application?: string | undefined
}

interface Figures {
  requests: number
  errors: Record<string, number>
  latencyMs: { p50: number; p90: number; p99: number } | null
}

/**
 * The answer of `/admin/analytics`: for each series that matches, its totals over the window and one point per
 * slot that saw traffic. `dumps` are the processes' data (one per worker), added up slot by slot.
 */
export function analyticsReport(dumps: readonly SeriesData[][], query: AnalyticsQuery, now = Date.now()): object {
  const merged = new Map<string, { key: SeriesKey; slots: Map<number, SlotData> }>()
  for (const dump of dumps) {
    for (const series of dump) {
      if (query.api !== undefined && series.api !== query.api) continue
      if (query.resource !== undefined && series.resource !== query.resource) continue
      if (query.application !== undefined && series.application !== query.application) continue
      const id = `${series.api}\u0000${series.resource}\u0000${series.application}`
      let entry = merged.get(id)
      if (!entry) merged.set(id, (entry = { key: { api: series.api, resource: series.resource, application: series.application }, slots: new Map() }))
      for (const slot of series.windows[query.window]) {
        if (!inWindow(query.window, slot.start, now)) continue
        const into = entry.slots.get(slot.start)
        entry.slots.set(slot.start, into ? add(into, slot) : add(emptySlot(slot.start), slot))
      }
    }
  }
  const { slotMs, slots } = WINDOWS[query.window]
  const series = [...merged.values()]
    .filter((entry) => entry.slots.size > 0)
    .map(({ key, slots: bySlot }) => {
      const points = [...bySlot.values()].sort((a, b) => a.start - b.start)
      const total = points.reduce((sum, slot) => add(sum, slot), emptySlot(0))
      return {
        ...key,
        total: figures(total),
        points: points.map((slot) => ({ time: new Date(slot.start).toISOString(), ...figures(slot) })),
      }
    })
    .sort((a, b) => b.total.requests - a.total.requests)
  return {
    window: query.window,
    step: query.window === 'hour' ? '1m' : '1h',
    from: new Date(now - (now % slotMs) - slotMs * (slots - 1)).toISOString(),
    to: new Date(now).toISOString(),
    series,
  }
}

function emptySlot(start: number): SlotData {
  return { start, requests: 0, errors: {}, latency: new Array<number>(OVERFLOW + 1).fill(0) }
}

function add(into: SlotData, slot: SlotData): SlotData {
  into.requests += slot.requests
  for (const [code, count] of Object.entries(slot.errors)) into.errors[code] = (into.errors[code] ?? 0) + count
  for (let i = 0; i <= OVERFLOW; i++) into.latency[i]! += slot.latency[i] ?? 0
  return into
}

function figures(slot: SlotData): Figures {
  return {
    requests: slot.requests,
    errors: slot.errors,
    latencyMs: slot.requests === 0 ? null : { p50: percentile(slot, 0.5), p90: percentile(slot, 0.9), p99: percentile(slot, 0.99) },
  }
}

/**
 * The upper bound of the bucket holding the given rank: never below the true value, at most 25 % above it (the
 * last bound, about 131 s, stands for anything slower).
 */
function percentile(slot: SlotData, quantile: number): number {
  const rank = Math.ceil(quantile * slot.requests)
  let seen = 0
  for (let i = 0; i <= OVERFLOW; i++) {
    seen += slot.latency[i]!
    if (seen >= rank) return Math.round(BOUNDS_MS[Math.min(i, OVERFLOW - 1)]! * 1000) / 1000
  }
  return Math.round(BOUNDS_MS[OVERFLOW - 1]! * 1000) / 1000
}
