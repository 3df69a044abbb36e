import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, test } from 'node:test'
import { request } from 'undici'
import { TrafficAnalytics, analyticsReport } from '../src/telemetry/analytics.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { freePort, startCli } from './support/cli.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { closedPort } from './support/switchable-backend.ts'

interface Figures {
  requests: number
  errors: Record<string, number>
  latencyMs: { p50: number; p90: number; p99: number } | null
}
interface Report {
  window: string
  step: string
  series: { api: string; resource: string; application: string; total: Figures; points: ({ time: string } & Figures)[] }[]
  workers?: number
}

let gateway: TestGateway | undefined
let backend: TestBackend | undefined

afterEach(async () => {
  await gateway?.close()
  gateway = undefined
  await backend?.close()
  backend = undefined
})

/** A backend that answers after `delay` ms. */
function slowBackend(delay: number): Promise<TestBackend> {
  return startBackend((_req, res) => setTimeout(() => res.end('ok'), delay))
}

function apis(backendUrl: string, gonePort: number): string {
  return `
apis:
  - name: shop
    context: /shop
    version: v1
    resources: [{ uriTemplate: "/items/{id}", methods: [GET] }, { uriTemplate: "/fast", methods: [GET] }]
    endpoints:
      production: { type: http, url: "${backendUrl}" }
  - name: gone
    context: /gone
    version: v1
    endpoints:
      production: { type: http, url: "http://127.0.0.1:${gonePort}" }
`
}

async function analytics(base: string, query = ''): Promise<{ status: number; body: Report & { code?: string; message?: string } }> {
  const response = await request(`${base}/admin/analytics${query}`)
  return { status: response.statusCode, body: (await response.body.json()) as Report & { code?: string } }
}

describe('traffic analytics on the admin port', () => {
  test('counts, errors by code and latency percentiles per API and resource, by minute over the last hour', async () => {
    backend = await slowBackend(120)
    gateway = await startGateway(`telemetry: { analytics: { enabled: true } }\n${apis(backend.url, await closedPort())}`)
    for (let i = 0; i < 4; i++) assert.equal((await request(`${gateway.url}/shop/v1/items/${i}`)).statusCode, 200)
    for (let i = 0; i < 2; i++) assert.equal((await request(`${gateway.url}/gone/v1/x`)).statusCode, 502)
    assert.equal((await request(`${gateway.url}/nowhere`)).statusCode, 404)

    const { status, body } = await analytics(gateway.adminUrl)
    assert.equal(status, 200)
    assert.equal(body.window, 'hour')
    assert.equal(body.step, '1m')
    const items = body.series.find((series) => series.api === 'shop:v1' && series.resource === '/items/{id}')!
    assert.equal(items.total.requests, 4)
    assert.deepEqual(items.total.errors, {})
    assert.equal(items.application, '')
    // A backend answering in 120 ms: the percentile is the bucket's upper bound, at most 25 % above.
    assert.ok(items.total.latencyMs!.p50 >= 120 && items.total.latencyMs!.p50 <= 150 * 1.25, `p50 ${items.total.latencyMs!.p50}`)
    assert.ok(items.points.length >= 1 && items.points.reduce((sum, point) => sum + point.requests, 0) === 4)
    const gone = body.series.find((series) => series.api === 'gone:v1')!
    assert.deepEqual(gone.total.errors, { BACKEND_UNREACHABLE: 2 })
    const unrouted = body.series.find((series) => series.api === '')!
    assert.deepEqual(unrouted.total.errors, { NO_ROUTE: 1 })

    const filtered = await analytics(gateway.adminUrl, '?window=week&api=gone:v1')
    assert.equal(filtered.body.step, '1h')
    assert.deepEqual(filtered.body.series.map((series) => series.api), ['gone:v1'])

    const bad = await analytics(gateway.adminUrl, '?window=day')
    assert.equal(bad.status, 400)
    assert.match(bad.body.message!, /window must be one of hour, week/)
  })

  test('label values are bounded: beyond maxSeries, requests are counted together as (other)', async () => {
    backend = await slowBackend(0)
    gateway = await startGateway(`telemetry: { analytics: { enabled: true, maxSeries: 1 } }\n${apis(backend.url, await closedPort())}`)
    await (await request(`${gateway.url}/shop/v1/items/1`)).body.text()
    await (await request(`${gateway.url}/shop/v1/fast`)).body.text()
    await (await request(`${gateway.url}/gone/v1/x`)).body.text()
    const { body } = await analytics(gateway.adminUrl)
    assert.deepEqual(
      body.series.map((series) => [series.api, series.resource, series.total.requests]).sort(),
      [['(other)', '(other)', 2], ['shop:v1', '/items/{id}', 1]],
    )
  })

  test('off by default: the admin port says how to turn it on', async () => {
    backend = await slowBackend(0)
    gateway = await startGateway(apis(backend.url, await closedPort()))
    const { status, body } = await analytics(gateway.adminUrl)
    assert.equal(status, 404)
    assert.equal(body.code, 'ANALYTICS_OFF')
  })

  test('a minute leaves the hour window after an hour and stays in the week, by the hour', () => {
    const analytics = new TrafficAnalytics(10)
    const start = Date.UTC(2026, 0, 5, 10, 0, 30)
    analytics.record('a:v1', '/x', 'app', 3, undefined, start)
    analytics.record('a:v1', '/x', 'app', 5, '503', start + 60_000)
    const soon = analyticsReport([analytics.dump(start + 120_000)], { window: 'hour' }, start + 120_000) as Report
    assert.deepEqual(soon.series[0]!.points.map((point) => point.requests), [1, 1])
    assert.deepEqual(soon.series[0]!.total.errors, { '503': 1 })
    const later = start + 60 * 60_000 + 10_000
    const hour = analyticsReport([analytics.dump(later)], { window: 'hour' }, later) as Report
    assert.deepEqual(hour.series[0]!.points.map((point) => point.requests), [1], 'the first minute is out of the hour')
    const week = analyticsReport([analytics.dump(later)], { window: 'week' }, later) as Report
    assert.deepEqual(week.series[0]!.points.map((point) => [point.time, point.requests]), [['2026-01-05T10:00:00.000Z', 2]])
    const nextWeek = start + 8 * 24 * 3_600_000
    assert.deepEqual((analyticsReport([analytics.dump(nextWeek)], { window: 'week' }, nextWeek) as Report).series, [])
  })

  test('with workers, the primary adds up every worker\'s counts', async () => {
    backend = await slowBackend(0)
    const dir = await mkdtemp(join(tmpdir(), 'portico-analytics-'))
    const [port, adminPort] = [await freePort(), await freePort()]
    const file = join(dir, 'workers.yaml')
    await writeFile(
      file,
      `listeners: [{ name: main, host: 127.0.0.1, port: ${port} }]\nadmin: { port: ${adminPort} }\naccessLog: { enabled: false }\ntelemetry: { analytics: { enabled: true } }\n${apis(backend.url, await closedPort())}`,
    )
    const cli = startCli(['start', '--config', file, '--workers', '2'])
    try {
      await cli.waitForLog('worker serving', 2)
      // New connections each time, so that both workers take some of them.
      for (let i = 0; i < 20; i++) {
        const response = await request(`http://127.0.0.1:${port}/shop/v1/items/${i}`, { reset: true })
        assert.equal(response.statusCode, 200)
        await response.body.text()
      }
      const { status, body } = await analytics(`http://127.0.0.1:${adminPort}`)
      assert.equal(status, 200)
      assert.equal(body.workers, 2)
      assert.equal(body.series.find((series) => series.resource === '/items/{id}')!.total.requests, 20)
    } finally {
      await cli.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
