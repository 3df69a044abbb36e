import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { queryObjects } from 'node:v8'
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { request } from 'undici'
import { apacheAvailable, startApache } from './support/apache.ts'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.ts'
import { closedPort, waitFor } from './support/switchable-backend.ts'

const SERVER = 2
const CLIENT = 3
const ERROR = 2
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const CLIENT_SPAN = '00f067aa0ba902b7'

let gateway: TestGateway | undefined
let receiver: OtlpReceiver | undefined
let closers: (() => Promise<void>)[] = []

afterEach(async () => {
  await gateway?.close()
  gateway = undefined
  await receiver?.close()
  receiver = undefined
  for (const close of closers) await close()
  closers = []
})

/** A collector that accepts connections and requests and never answers; closed after the test. Returns its port. */
async function stalledCollector(): Promise<number> {
  const stalled: Server = createServer(() => {})
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve))
  closers.push(() => {
    stalled.closeAllConnections()
    return new Promise((resolve) => stalled.close(() => resolve()))
  })
  return (stalled.address() as AddressInfo).port
}

async function echo(name: string): Promise<TestBackend> {
  const backend = await startEchoBackend(name)
  closers.push(() => backend.close())
  return backend
}

function config(tracing: string, endpoint: string): string {
  return `
telemetry:
  tracing: ${tracing}
apis:
  - name: t
    context: /t
    version: v1
    resources: [{ uriTemplate: "/items/{id}", methods: [GET, POST] }]
    endpoints:
      production: ${endpoint}
`
}

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; took: number }> {
  const start = performance.now()
  const response = await request(`${gateway!.url}${path}`, { headers, headersTimeout: 5000, bodyTimeout: 5000 })
  const body = await response.body.text()
  return { status: response.statusCode, body, took: performance.now() - start }
}

async function droppedSpans(reason: string): Promise<number> {
  const text = await (await request(`${gateway!.adminUrl}/metrics`)).body.text()
  const line = text.split('\n').find((entry) => entry.startsWith(`portico_trace_spans_dropped_total{reason="${reason}"}`))
  return line ? Number(line.split(' ').at(-1)) : 0
}

function only(spans: ReceivedSpan[], which: (span: ReceivedSpan) => boolean, what: string): ReceivedSpan {
  const found = spans.filter(which)
  assert.equal(found.length, 1, `exactly one ${what} among ${spans.map((span) => span.name).join(', ')}`)
  return found[0]!
}

describe('tracing', () => {
  test('a failover whose first leaf is refused: one server span, the group, two sibling attempts, traceparent at the backend', async () => {
    receiver = await OtlpReceiver.start()
    const standby = await echo('standby')
    const refused = await closedPort()
    gateway = await startGateway(
      config(
        `{ endpoint: "${receiver.url}", scheduledDelay: 50ms, serviceName: edge }`,
        `{ type: failover, name: orders, endpoints: [{ type: http, name: primary, url: "http://127.0.0.1:${refused}" }, { type: http, name: standby, url: "${standby.url}" }] }`,
      ),
    )
    const answer = await get('/t/v1/items/7', { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=abc' })
    assert.equal(answer.status, 200)
    await waitFor(() => receiver!.spans.length >= 4, 5000, 'four spans at the collector')
    const spans = receiver.spans
    assert.ok(receiver.requests.every((r) => r.contentType === 'application/x-protobuf' && r.path === '/v1/traces'))
    assert.ok(spans.every((span) => span.traceId === CLIENT_TRACE), 'every span continues the client trace')
    assert.ok(spans.every((span) => span.serviceName === 'edge'))

    const server = only(spans, (span) => span.kind === SERVER, 'server span')
    assert.equal(server.parentSpanId, CLIENT_SPAN)
    assert.equal(server.name, 'GET /t/v1/items/{id}')
    assert.equal(server.attributes['http.request.method'], 'GET')
    assert.equal(server.attributes['url.path'], '/t/v1/items/7')
    assert.equal(server.attributes['http.route'], '/t/v1/items/{id}')
    assert.equal(server.attributes['http.response.status_code'], 200)
    assert.equal(server.attributes['server.address'], '127.0.0.1')
    assert.equal(server.attributes['server.port'], Number(new URL(gateway.url).port))

    const group = only(spans, (span) => span.name === 'group orders', 'group span')
    assert.equal(group.parentSpanId, server.spanId)
    assert.equal(group.attributes['portico.group.attempts'], 2)
    assert.equal(group.attributes['portico.group.answered_by'], 'standby')

    const attempts = spans.filter((span) => span.kind === CLIENT).sort((a, b) => Number(a.startNanos - b.startNanos))
    assert.equal(attempts.length, 2)
    const [first, second] = attempts as [ReceivedSpan, ReceivedSpan]
    assert.ok(attempts.every((span) => span.parentSpanId === group.spanId), 'attempts are siblings under the group')
    assert.equal(first.attributes['portico.endpoint'], 'primary')
    assert.equal(first.attributes['error.type'], 'connect-refused')
    assert.equal(first.attributes['portico.failure.kind'], 'connect-refused')
    assert.equal(first.attributes['portico.wso2.error_code'], 101503)
    assert.equal(first.attributes['server.port'], refused)
    assert.equal(first.status.code, ERROR)
    assert.equal(second.attributes['portico.endpoint'], 'standby')
    assert.equal(second.attributes['http.response.status_code'], 200)
    assert.equal(second.attributes['server.address'], '127.0.0.1')
    assert.equal(second.attributes['server.port'], standby.port)
    assert.equal(second.attributes['url.path'], '/items/7')
    assert.equal(second.attributes['error.type'], undefined)
    assert.notEqual(second.status.code, ERROR)
    assert.ok(first.endNanos <= second.startNanos, 'the second attempt starts after the first failed')
    assert.ok(second.startNanos < second.endNanos && second.endNanos <= group.endNanos && group.endNanos <= server.endNanos)

    const received = standby.requests[0]!.headers
    assert.equal(received.traceparent, `00-${CLIENT_TRACE}-${second.spanId}-01`, 'the backend sees the answering attempt as its parent')
    assert.equal(received.tracestate, 'vendor=abc')
  })

  test('a load balancer that retries elsewhere shows its attempts as siblings under its span', async () => {
    receiver = await OtlpReceiver.start()
    const second = await echo('second')
    const refused = await closedPort()
    gateway = await startGateway(
      config(
        `{ endpoint: "${receiver.url}", scheduledDelay: 50ms }`,
        `{ type: loadbalance, name: pool, algorithm: roundRobin, endpoints: [{ type: http, name: first, url: "http://127.0.0.1:${refused}" }, { type: http, name: second, url: "${second.url}" }] }`,
      ),
    )
    assert.equal((await get('/t/v1/items/1')).status, 200)
    await waitFor(() => receiver!.spans.length >= 4, 5000, 'four spans at the collector')
    const group = only(receiver.spans, (span) => span.name === 'group pool', 'group span')
    const attempts = receiver.spans.filter((span) => span.kind === CLIENT).sort((a, b) => Number(a.startNanos - b.startNanos))
    assert.deepEqual(attempts.map((span) => [span.attributes['portico.endpoint'], span.attributes['error.type'] ?? span.attributes['http.response.status_code']]), [['first', 'connect-refused'], ['second', 200]])
    assert.ok(attempts.every((span) => span.parentSpanId === group.spanId))
    assert.equal(second.requests[0]!.headers.traceparent, `00-${group.traceId}-${attempts[1]!.spanId}-01`)
  })

  test('a gateway error names the trace, and the IN sequence and every filter get a span', async () => {
    receiver = await OtlpReceiver.start()
    const refused = await closedPort()
    gateway = await startGateway(`
telemetry:
  tracing: { endpoint: "${receiver.url}", scheduledDelay: 50ms }
apis:
  - name: t
    context: /t
    version: v1
    inSequence:
      - property: { name: seen, value: "yes" }
    endpoints:
      production: { type: http, name: gone, url: "http://127.0.0.1:${refused}" }
`)
    const answer = await get('/t/v1/x')
    assert.equal(answer.status, 502)
    const error = JSON.parse(answer.body) as { code: string; traceId: string }
    assert.equal(error.code, 'BACKEND_UNREACHABLE')
    assert.match(error.traceId, /^[0-9a-f]{32}$/)
    await waitFor(() => receiver!.spans.length >= 3, 5000, 'three spans at the collector')
    assert.ok(receiver.spans.every((span) => span.traceId === error.traceId), 'the error body names the exported trace')
    const server = only(receiver.spans, (span) => span.kind === SERVER, 'server span')
    assert.equal(server.parentSpanId, '', 'a request without traceparent starts a trace')
    assert.equal(server.attributes['error.type'], 'BACKEND_UNREACHABLE')
    assert.equal(server.status.code, ERROR)
    const inSequence = only(receiver.spans, (span) => span.name === 'mediation request', 'IN sequence span')
    assert.equal(inSequence.parentSpanId, server.spanId)
    const attempt = only(receiver.spans, (span) => span.kind === CLIENT, 'attempt span')
    assert.equal(attempt.parentSpanId, server.spanId, 'a lone leaf attempt hangs from the server span')
    assert.ok(inSequence.endNanos <= attempt.startNanos)
  })

  test('sampleRatio 0 exports nothing and leaves the client headers alone; a sampled client trace is still followed', async () => {
    receiver = await OtlpReceiver.start()
    const backend = await echo('b')
    gateway = await startGateway(config(`{ endpoint: "${receiver.url}", sampleRatio: 0, scheduledDelay: 50ms }`, `{ type: http, url: "${backend.url}" }`))
    for (let i = 0; i < 20; i++) assert.equal((await get('/t/v1/items/1')).status, 200)
    const unsampled = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-00`
    assert.equal((await get('/t/v1/items/2', { traceparent: unsampled })).status, 200)
    await sleep(400)
    assert.equal(receiver.requests.length, 0, 'nothing reached the collector')
    assert.equal(backend.requests[0]!.headers.traceparent, undefined)
    assert.equal(backend.requests[20]!.headers.traceparent, unsampled, 'an unsampled trace passes through untouched')

    assert.equal((await get('/t/v1/items/3', { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` })).status, 200)
    await waitFor(() => receiver!.spans.length >= 2, 5000, 'the sampled request at the collector')
    assert.ok(receiver.spans.every((span) => span.traceId === CLIENT_TRACE))
  })

  test('a collector that is down neither fails nor slows requests, and the spans it loses are counted', async () => {
    const backend = await echo('b')
    const down = await closedPort()
    gateway = await startGateway(
      config(`{ endpoint: "http://127.0.0.1:${down}/v1/traces", maxQueueSize: 4, maxExportBatchSize: 2, exportTimeout: 30s }`, `{ type: http, url: "${backend.url}" }`),
    )
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => get(`/t/v1/items/${i}`)))
    assert.ok(answers.every((answer) => answer.status === 200))
    // An export waits up to 30 s for the collector; no request waited for it.
    assert.ok(answers.every((answer) => answer.took < 2500), `slowest request ${Math.max(...answers.map((answer) => answer.took))} ms`)
    assert.ok((await droppedSpans('queue-full')) >= 40 * 2 - 4 - 2 * 2, 'all but a queue and a batch or two were dropped')
  })

  test('an ended span is encoded and let go: no span object waits for its batch', async () => {
    receiver = await OtlpReceiver.start()
    const backend = await echo('b')
    // Nothing is sent before the stop: a batch holds 512 spans, and the first waits a minute.
    gateway = await startGateway(config(`{ endpoint: "${receiver.url}", scheduledDelay: 60s }`, `{ type: http, url: "${backend.url}" }`))
    for (let i = 0; i < 50; i++) assert.equal((await get(`/t/v1/items/${i}`)).status, 200)
    // The SDK's span class, read from a span of its own.
    const SdkSpan = new BasicTracerProvider().getTracer('probe').startSpan('probe').constructor as new () => object
    const live = queryObjects(SdkSpan, { format: 'count' })
    assert.ok(live < 10, `${live} span objects are alive after 50 traced requests ended`)
    assert.equal(receiver.spans.length, 0)
    await gateway.close()
    gateway = undefined
    assert.equal(receiver.spans.length, 100, 'the stop sent them all')
  })

  test('a collector that takes exports and never answers: the queue stays at maxQueueSize, the rest is counted', async () => {
    const backend = await echo('b')
    const port = await stalledCollector()
    gateway = await startGateway(
      config(`{ endpoint: "http://127.0.0.1:${port}/v1/traces", maxQueueSize: 4, maxExportBatchSize: 2, scheduledDelay: 10ms, exportTimeout: 30s }`, `{ type: http, url: "${backend.url}" }`),
    )
    for (let i = 0; i < 30; i++) {
      const answer = await get(`/t/v1/items/${i}`)
      assert.equal(answer.status, 200)
      assert.ok(answer.took < 1000, `request took ${answer.took} ms`)
    }
    // One export (one or two spans) hangs for 30 s, four spans wait behind it, every other one is dropped.
    const dropped = await droppedSpans('queue-full')
    assert.ok(dropped >= 60 - 2 - 4 && dropped <= 60 - 1 - 4, `${dropped} of 60 spans dropped`)
    assert.equal(await droppedSpans('export-failed'), 0)
  })

  test('a collector that never answers: exports time out, their spans count as export-failed, requests carry on', async () => {
    const backend = await echo('b')
    const port = await stalledCollector()
    gateway = await startGateway(
      config(`{ endpoint: "http://127.0.0.1:${port}/v1/traces", scheduledDelay: 20ms, exportTimeout: 300ms }`, `{ type: http, url: "${backend.url}" }`),
    )
    for (let i = 0; i < 5; i++) {
      const answer = await get(`/t/v1/items/${i}`)
      assert.equal(answer.status, 200)
      assert.ok(answer.took < 1000, `request took ${answer.took} ms`)
    }
    let failed = 0
    for (let i = 0; i < 50 && failed === 0; i++) {
      await sleep(100)
      failed = await droppedSpans('export-failed')
    }
    assert.ok(failed >= 1, 'spans of a timed-out export are counted')
  })
})

describe('tracing: stopping', () => {
  test('a stop sends every span still queued, batch after batch, to a collector that answers slowly', async () => {
    receiver = await OtlpReceiver.start({ answerAfter: 30 })
    const backend = await echo('b')
    gateway = await startGateway(
      config(`{ endpoint: "${receiver.url}", maxQueueSize: 200, maxExportBatchSize: 2, scheduledDelay: 60s }`, `{ type: http, url: "${backend.url}" }`),
    )
    for (let i = 0; i < 20; i++) assert.equal((await get(`/t/v1/items/${i}`)).status, 200)
    // Batches fill faster than the collector answers: most of the 40 spans are still queued.
    assert.ok(receiver.spans.length < 20, `${receiver.spans.length} spans arrived before the stop`)
    await gateway.close()
    gateway = undefined
    assert.equal(receiver.spans.length, 40, 'every span reached the collector')
    assert.equal(new Set(receiver.spans.map((span) => span.spanId)).size, 40)
  })

  test('a collector that never answers does not hold up a stop for its export timeout', async () => {
    const backend = await echo('b')
    const port = await stalledCollector()
    gateway = await startGateway(
      config(`{ endpoint: "http://127.0.0.1:${port}/v1/traces", scheduledDelay: 10ms, exportTimeout: 30s }`, `{ type: http, url: "${backend.url}" }`),
    )
    assert.equal((await get('/t/v1/items/1')).status, 200)
    await sleep(200)
    const stopping = performance.now()
    await gateway.close()
    gateway = undefined
    const took = performance.now() - stopping
    assert.ok(took < 4000, `the gateway took ${Math.round(took)} ms to stop`)
  })
})

describe('tracing: backend credentials, Lambda and the access log', () => {
  test('a token fetch is a span under its attempt; a refused token is a challenge span holding the second fetch', async () => {
    receiver = await OtlpReceiver.start()
    let issued = 0
    const tokens: TestServer = await serve((_req, res) => {
      issued++
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ access_token: `token-${issued}`, token_type: 'Bearer', expires_in: 300 }))
    })
    const backend = await serve((req, res) => {
      // The first token is "revoked": the gateway must fetch another and send the request again.
      if (req.headers.authorization !== 'Bearer token-2') {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' })
        return res.end()
      }
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('secured')
    })
    gateway = await startGateway(
      config(
        `{ endpoint: "${receiver.url}", scheduledDelay: 50ms }`,
        `{ type: http, name: secured, url: "${backend.url}", security: { auth: { type: oauth2, tokenUrl: "${tokens.url}/token", clientId: gw, clientSecret: s3cret } } }`,
      ),
    )
    const answer = await get('/t/v1/items/1')
    assert.equal(answer.status, 200)
    assert.equal(answer.body, 'secured')
    await waitFor(() => receiver!.spans.length >= 5, 5000, 'five spans at the collector')
    const attempt = only(receiver.spans, (span) => span.name === 'GET secured', 'attempt span')
    const challenge = only(receiver.spans, (span) => span.name === 'oauth2 challenge', 'challenge span')
    const fetches = receiver.spans.filter((span) => span.name === 'oauth2 token').sort((a, b) => Number(a.startNanos - b.startNanos))
    assert.equal(fetches.length, 2)
    assert.equal(fetches[0]!.parentSpanId, attempt.spanId, 'the first token was fetched for the attempt')
    assert.equal(challenge.parentSpanId, attempt.spanId)
    assert.equal(fetches[1]!.parentSpanId, challenge.spanId, 'the renewal happened while answering the 401')
    assert.equal(fetches[1]!.attributes['server.port'], tokens.port)
    assert.equal(fetches[1]!.attributes['url.path'], '/token')
    assert.equal(attempt.attributes['http.response.status_code'], 200)
    const values = receiver.spans.flatMap((span) => [span.name, span.status.message, ...Object.values(span.attributes).map(String)])
    assert.ok(values.every((value) => !value.includes('s3cret')), 'no secret in any span')
  })

  test('a Digest challenge from Apache httpd is a span under the attempt, and the credentials stay out of the trace', { skip: !apacheAvailable() && 'Apache httpd is not installed' }, async () => {
    receiver = await OtlpReceiver.start()
    const apache = await startApache({ basic: { username: 'bob', password: 'unused' }, digest: { username: 'alice', password: 'Circle of Life' } })
    closers.push(() => apache.close())
    gateway = await startGateway(`
telemetry:
  tracing: { endpoint: "${receiver.url}", scheduledDelay: 50ms }
apis:
  - name: t
    context: /t
    version: v1
    endpoints:
      production: { type: http, name: digested, url: "${apache.url}/digest", security: { auth: { type: digest, username: alice, password: "Circle of Life" } } }
`)
    const answer = await get('/t/v1/echo.cgi')
    assert.equal(answer.status, 200, answer.body)
    assert.match(answer.body, /user=alice .*auth=Digest/)
    await waitFor(() => receiver!.spans.length >= 3, 5000, 'three spans at the collector')
    const attempt = only(receiver.spans, (span) => span.name === 'GET digested', 'attempt span')
    const challenge = only(receiver.spans, (span) => span.name === 'digest challenge', 'challenge span')
    assert.equal(challenge.parentSpanId, attempt.spanId)
    assert.equal(challenge.attributes['portico.auth.type'], 'digest')
    assert.notEqual(challenge.status.code, ERROR, 'an answered challenge is no failure')
    assert.equal(attempt.attributes['http.response.status_code'], 200)
    const values = receiver.spans.flatMap((span) => [span.name, span.status.message, ...Object.values(span.attributes).map(String)])
    assert.ok(values.every((value) => !value.includes('Circle of Life')), 'no password in any span')
  })

  test('a Lambda endpoint sends the trace as X-Amzn-Trace-Id with the attempt as parent', async () => {
    receiver = await OtlpReceiver.start()
    const invoked: string[] = []
    const lambda = await serve((req, res) => {
      invoked.push(String(req.headers['x-amzn-trace-id']))
      req.resume()
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ statusCode: 200, headers: { 'content-type': 'text/plain' }, body: 'from lambda' }))
    })
    gateway = await startGateway(
      config(
        `{ endpoint: "${receiver.url}", scheduledDelay: 50ms }`,
        `{ type: lambda, name: fn, function: orders, region: us-east-1, endpointUrl: "${lambda.url}", credentials: { type: static, accessKeyId: AKIAIOSFODNN7EXAMPLE, secretAccessKey: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY } }`,
      ),
    )
    const answer = await get('/t/v1/items/1', { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` })
    assert.equal(answer.body, 'from lambda')
    await waitFor(() => receiver!.spans.length >= 2, 5000, 'two spans at the collector')
    const attempt = only(receiver.spans, (span) => span.kind === CLIENT, 'attempt span')
    assert.deepEqual(invoked, [`Root=1-${CLIENT_TRACE.slice(0, 8)}-${CLIENT_TRACE.slice(8)};Parent=${attempt.spanId};Sampled=1`])
  })

  test('the access log line of a traced request has its trace id', async () => {
    receiver = await OtlpReceiver.start()
    const backend = await echo('b')
    const dir = await mkdtemp(join(tmpdir(), 'portico-trace-log-'))
    closers.push(() => rm(dir, { recursive: true, force: true }))
    gateway = await startGateway(
      config(`{ endpoint: "${receiver.url}", scheduledDelay: 50ms }`, `{ type: http, url: "${backend.url}" }`).replace('telemetry:', `accessLog: { path: "${join(dir, 'access.log')}" }\ntelemetry:`),
    )
    assert.equal((await get('/t/v1/items/1', { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` })).status, 200)
    await gateway.close()
    gateway = undefined
    // The log file is opened asynchronously: a gateway closed moments after it started may write its lines just after.
    const file = join(dir, 'access.log')
    await waitFor(() => existsSync(file) && readFileSync(file, 'utf8').endsWith('\n'), 5000, 'the access log line')
    const line = JSON.parse((await readFile(file, 'utf8')).trim()) as { traceId?: string; requestId: string }
    assert.equal(line.traceId, CLIENT_TRACE)
  })
})

interface TestServer {
  url: string
  port: number
}

/** A plain node:http server on 127.0.0.1, closed after the test. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => {
    server.closeAllConnections()
    return new Promise((resolve) => server.close(() => resolve()))
  })
  const port = (server.address() as AddressInfo).port
  return { url: `http://127.0.0.1:${port}`, port }
}

describe('tracing off', () => {
  test('no traceparent is made up, error bodies carry no traceId and the drop counter stays at zero', async () => {
    const backend = await echo('b')
    gateway = await startGateway(config('null', `{ type: http, url: "${backend.url}" }`).replace('telemetry:\n  tracing: null\n', ''))
    assert.equal((await get('/t/v1/items/1')).status, 200)
    assert.equal(backend.requests[0]!.headers.traceparent, undefined)
    const missing = JSON.parse((await get('/t/v1/nothing')).body) as Record<string, unknown>
    assert.equal(missing.code, 'RESOURCE_NOT_FOUND')
    assert.equal('traceId' in missing, false)
    assert.equal(await droppedSpans('queue-full'), 0)
  })
})
