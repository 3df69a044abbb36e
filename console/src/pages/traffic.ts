import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, get } from '../api.ts'
import { Problem } from './parts.ts'

interface Point {
  time: string
  requests: number
  errors: Record<string, number>
  latencyMs: { p50: number; p90: number; p99: number } | null
}

/** Request rate, error rate and latency percentiles of the API over the last hour, a point a minute. */
export function Traffic(props: { api: any }) {
  const [points, setPoints] = useState<Point[] | undefined>(undefined)
  const [problem, setProblem] = useState('')
  useEffect(() => {
    const load = () => get(`/admin/analytics?window=hour&api=${encodeURIComponent(`${props.api.name}:${props.api.version}`)}`).then(
      (report) => setPoints(everyMinute(mergeSeries(report.series), report.from, report.to)),
      (error) => setProblem(error instanceof ApiError && error.code === 'ANALYTICS_OFF' ? 'Analytics are off on this node: set telemetry.analytics.enabled to true.' : error.message),
    )
    void load()
    const timer = setInterval(load, 10_000)
    return () => clearInterval(timer)
  }, [props.api.id])
  if (problem) return html`<${Problem} text=${problem} />`
  if (!points) return html`<p class="loading">Loading…</p>`
  if (points.length === 0) return html`<p class="muted">No traffic in the last hour.</p>`
  const errorsOf = (point: Point) => Object.values(point.errors).reduce((sum, count) => sum + count, 0)
  return html`<div class="charts">
    <${Chart} title="Requests per minute" points=${points.map((point) => [point.time, point.requests])} unit="" />
    <${Chart} title="Error rate" points=${points.map((point) => [point.time, point.requests ? (100 * errorsOf(point)) / point.requests : 0])} unit="%" />
    <${Chart} title="Latency p50 (ms)" points=${points.map((point) => [point.time, point.latencyMs?.p50 ?? 0])} unit=" ms" />
    <${Chart} title="Latency p99 (ms)" points=${points.map((point) => [point.time, point.latencyMs?.p99 ?? 0])} unit=" ms" />
  </div>`
}

/** The API's series (one per resource and application) added up minute by minute; percentiles: the worst. */
function mergeSeries(series: { points: Point[] }[]): Point[] {
  const byTime = new Map<string, Point>()
  for (const one of series) {
    for (const point of one.points) {
      const into = byTime.get(point.time)
      if (!into) {
        byTime.set(point.time, { ...point, errors: { ...point.errors } })
        continue
      }
      into.requests += point.requests
      for (const [code, count] of Object.entries(point.errors)) into.errors[code] = (into.errors[code] ?? 0) + count
      if (point.latencyMs) into.latencyMs = into.latencyMs ? { p50: Math.max(into.latencyMs.p50, point.latencyMs.p50), p90: Math.max(into.latencyMs.p90, point.latencyMs.p90), p99: Math.max(into.latencyMs.p99, point.latencyMs.p99) } : point.latencyMs
    }
  }
  return [...byTime.values()].sort((a, b) => a.time.localeCompare(b.time))
}

/** One point a minute over the window, minutes without traffic as zero: the line shows the quiet too. */
function everyMinute(points: Point[], from: string, to: string): Point[] {
  if (points.length === 0) return points
  const byTime = new Map(points.map((point) => [Date.parse(point.time), point]))
  const filled: Point[] = []
  for (let time = Date.parse(from); time <= Date.parse(to); time += 60_000) {
    filled.push(byTime.get(time) ?? { time: new Date(time).toISOString(), requests: 0, errors: {}, latencyMs: null })
  }
  return filled
}

/** A small SVG line chart with its figures in a table for screen readers. */
function Chart(props: { title: string; points: [string, number][]; unit: string }) {
  const width = 360
  const height = 120
  const peak = Math.max(0, ...props.points.map(([, value]) => value))
  const max = peak || 1
  const x = (index: number) => (props.points.length === 1 ? width / 2 : (index / (props.points.length - 1)) * (width - 8) + 4)
  const y = (value: number) => height - 4 - (value / max) * (height - 20)
  const line = props.points.map(([, value], index) => `${index ? 'L' : 'M'}${x(index).toFixed(1)},${y(value).toFixed(1)}`).join(' ')
  const last = props.points[props.points.length - 1]
  return html`<figure class="chart">
    <figcaption>${props.title}: <strong>${last ? round(last[1]) : 0}${props.unit}</strong> last minute, peak ${round(peak)}${props.unit}</figcaption>
    <svg viewBox=${`0 0 ${width} ${height}`} role="img" aria-label=${`${props.title} over the last hour`}>
      <line x1="0" x2=${width} y1=${height - 4} y2=${height - 4} stroke="#8794a6" stroke-width="1" />
      <path d=${line} fill="none" stroke="currentColor" stroke-width="2" />
    </svg>
  </figure>`
}

const round = (value: number) => Math.round(value * 10) / 10
