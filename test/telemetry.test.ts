import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { gatewayInFront } from './support/in-front.ts'
import { OtlpReceiver } from './support/otlp-receiver.ts'

/** A working API with one resource and one whose backend port is closed. */
const shopAndGone = (backendUrl: string) => `apis:
  - name: shop
    context: /shop
    version: v1
    resources: [{ uriTemplate: "/items/{id}", methods: [GET] }]
    endpoints:
      production: { type: http, url: "${backendUrl}" }
  - name: gone
    context: /gone
    version: v1
    endpoints:
      production: { type: http, url: "http://127.0.0.1:1" }
`

describe('access log and metrics', () => {
  let backend: TestBackend
  let gateway: TestGateway
  let dir: string

  before(async () => {
    backend = await startEchoBackend()
    dir = await mkdtemp(join(tmpdir(), 'portico-log-'))
    gateway = await startGateway(`
accessLog: { path: "${join(dir, 'access.log')}" }
${shopAndGone(backend.url)}`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('every request gets one JSON access-log line with route, status, latency and upstream timing', async () => {
    const ok = await request(`${gateway.url}/shop/v1/items/7?secret=1`, { headers: { 'x-request-id': 'log-test-0001' } })
    await ok.body.text()
    const failed = await request(`${gateway.url}/gone/v1/x`)
    await failed.body.text()
    // A quiet gateway still writes its lines within about a second, without waiting for a full batch or exit.
    let written = ''
    for (let i = 0; i < 60 && !written.includes('log-test-0001'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      written = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '')
    }
    assert.match(written, /log-test-0001/, 'the line was written while the gateway kept running')
    await gateway.close()
    const lines = (await readFile(join(dir, 'access.log'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line))
    const entry = lines.find((line) => line.requestId === 'log-test-0001')
    assert.ok(entry, 'the request has a line')
    assert.equal(entry.method, 'GET')
    assert.equal(entry.path, '/shop/v1/items/7', 'the query string (which may carry secrets) is not logged')
    assert.equal(entry.status, 200)
    assert.equal(entry.api, 'shop:v1')
    assert.equal(entry.resource, '/items/{id}')
    assert.equal(entry.endpoint, 'shop:v1:production')
    assert.equal(entry.environment, 'production')
    assert.equal(typeof entry.durationMs, 'number')
    assert.equal(typeof entry.upstreamMs, 'number')
    assert.ok(entry.upstreamMs <= entry.durationMs)
    const error = lines.find((line) => line.api === 'gone:v1')
    assert.equal(error.status, 502)
    assert.equal(error.code, 'BACKEND_UNREACHABLE')
    assert.equal(error.upstreamMs, undefined)
    assert.equal(lines.length, 2)
  })
})

interface DocumentedField {
  name: string
  type: 'string' | 'number'
  always: boolean
}

/** The access-log section of docs/observability.md: its table of fields, and its example lines. */
function documentedAccessLog(): { fields: Map<string, DocumentedField>; examples: Record<string, unknown>[] } {
  const text = readFileSync(new URL('../docs/observability.md', import.meta.url), 'utf8')
  const start = text.indexOf('\n## Access log\n')
  assert.ok(start >= 0, 'docs/observability.md has an "Access log" section')
  const section = text.slice(start + 1, text.indexOf('\n## ', start + 1))
  const fields = new Map<string, DocumentedField>()
  for (const [, name, type, present] of section.matchAll(/^\| `(\w+)` \| (\w+) \| ([^|]+) \|/gm)) {
    assert.ok(type === 'string' || type === 'number', `${name}: type "${type}" is string or number`)
    fields.set(name!, { name: name!, type, always: present!.trim() === 'always' })
  }
  const examples = [...section.matchAll(/^```json\n(.*)\n```$/gm)].map(([, line]) => JSON.parse(line!) as Record<string, unknown>)
  return { fields, examples }
}

/** What is wrong with `line` against the documented fields: an undocumented field, a wrong type, a missing field. */
function schemaProblems(line: Record<string, unknown>, fields: Map<string, DocumentedField>): string[] {
  const problems: string[] = []
  for (const [name, value] of Object.entries(line)) {
    const field = fields.get(name)
    if (!field) problems.push(`${name} is not documented`)
    else if (typeof value !== field.type) problems.push(`${name} is a ${typeof value}, documented as ${field.type}`)
  }
  for (const field of fields.values()) if (field.always && !(field.name in line)) problems.push(`${field.name} is missing, documented as always present`)
  return problems
}

describe('the access log follows the schema docs/observability.md documents', () => {
  const KEY = 'schema-test-key-0001'
  let backend: TestBackend
  let receiver: OtlpReceiver
  let gateway: TestGateway
  let dir: string

  before(async () => {
    backend = await startEchoBackend()
    receiver = await OtlpReceiver.start()
    dir = await mkdtemp(join(tmpdir(), 'portico-log-schema-'))
    gateway = await startGateway(`
accessLog: { path: "${join(dir, 'access.log')}" }
telemetry:
  tracing: { endpoint: "${receiver.url}", scheduledDelay: 50ms }
throttling:
  policies: [{ name: one-per-minute, key: application, limit: { requests: 1, per: minute } }]
apis:
  - name: shop
    context: /shop
    version: v1
    security:
      apiKey: { keys: [{ sha256: "${createHash('sha256').update(KEY).digest('hex')}", application: shop-web }] }
    throttling: { policies: [one-per-minute] }
    resources: [{ uriTemplate: "/items/{id}", methods: [GET] }]
    endpoints:
      production: { type: http, url: "${backend.url}" }
`)
  })
  after(async () => {
    await gateway.close()
    await receiver.close()
    await backend.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('every field of real lines (served, refused by a rate limit, unrouted) is documented with its type, the "always" ones are there, and each documented field occurs', async () => {
    const { fields, examples } = documentedAccessLog()
    assert.ok(fields.size >= 10, `the table lists the fields (found ${[...fields.keys()].join(', ')})`)
    const statuses: number[] = []
    for (const path of ['/shop/v1/items/7', '/shop/v1/items/8', '/nowhere']) {
      const answer = await request(`${gateway.url}${path}`, { headers: { apikey: KEY } })
      statuses.push(answer.statusCode)
      await answer.body.text()
    }
    assert.deepEqual(statuses, [200, 429, 404])
    await gateway.close()
    const lines = (await readFile(join(dir, 'access.log'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    assert.equal(lines.length, 3)
    for (const line of lines) assert.deepEqual(schemaProblems(line, fields), [], JSON.stringify(line))
    const seen = new Set(lines.flatMap((line) => Object.keys(line)))
    assert.deepEqual([...fields.keys()].filter((name) => !seen.has(name)), [], 'no documented field that the gateway never writes')
    assert.ok(examples.length > 0, 'the section shows example lines')
    for (const example of examples) assert.deepEqual(schemaProblems(example, fields), [], `example ${JSON.stringify(example)}`)
  })
})

describe('metrics', () => {
  const shop = gatewayInFront(shopAndGone)

  test('the admin port serves Prometheus metrics by API, resource and status, latency histograms and upstream errors by kind', async () => {
    const { gateway } = shop
    for (let i = 0; i < 3; i++) await (await request(`${gateway.url}/shop/v1/items/${i}`)).body.text()
    await (await request(`${gateway.url}/shop/v1/items/1`, { method: 'POST' })).body.text()
    await (await request(`${gateway.url}/gone/v1/x`)).body.text()
    const metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
    assert.match(metrics, /portico_requests_total\{api="shop:v1",resource="\/items\/\{id\}",method="GET",status="200"\} 3/)
    assert.match(metrics, /portico_requests_total\{api="shop:v1",resource="",method="POST",status="405"\} 1/)
    assert.match(metrics, /portico_request_duration_seconds_count\{api="shop:v1",resource="\/items\/\{id\}"\} 3/)
    assert.match(metrics, /portico_upstream_duration_seconds_bucket\{le="0.5",endpoint="shop:v1:production"\} 3/)
    assert.match(metrics, /portico_upstream_errors_total\{endpoint="gone:v1:production",kind="connect-refused"\} 1/)
    assert.match(metrics, /portico_process_cpu_seconds_total/)
  })

  test('the admin port has /health and lists endpoints at /admin/endpoints', async () => {
    const { gateway } = shop
    assert.deepEqual(await (await request(`${gateway.adminUrl}/health`)).body.json(), { status: 'ok' })
    const view = (await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json()) as { endpoints: Array<{ id: string }> }
    assert.deepEqual(view.endpoints.map((endpoint) => endpoint.id).sort(), ['gone:v1:production', 'shop:v1:production'])
  })
})
