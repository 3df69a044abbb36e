import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { Writable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { request } from 'undici'
import { VIA } from '../src/core/headers.ts'
import type { Logger } from '../src/telemetry/logger.ts'
import { startBackend, startEchoBackend, type TestBackend } from './support/backend.ts'
import { runCli } from './support/cli.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { startNginx, type Nginx } from './support/nginx.ts'
import { rawExchange, statusOf } from './support/raw.ts'

describe('hostile paths', () => {
  let nginx: Nginx
  let echo: TestBackend
  let gateway: TestGateway

  before(async () => {
    // nginx decodes a path before it resolves it, as most file servers do: `..%2f` climbs a directory there.
    nginx = await startNginx({ 'files/public/ok.txt': 'public file\n', 'files/secret.txt': 'secret file\n' })
    echo = await startEchoBackend()
    gateway = await startGateway(`
apis:
  - name: static
    context: /static
    version: v1
    resources:
      - uriTemplate: /*
        methods: [GET]
    endpoints:
      production: { type: http, url: "${nginx.url}/files/public" }
  - name: renamed
    context: /renamed
    version: v1
    inSequence:
      - property: { name: file, expression: "request.headers['x-file']" }
      - property: { name: under, expression: "request.headers['x-under']" }
      - rewrite: { path: "/{file}{+under}" }
    resources:
      - uriTemplate: /*
        methods: [GET]
    endpoints:
      production: { type: http, url: "${nginx.url}/files/public" }
  - name: echo
    context: /echo
    version: v1
    inSequence:
      - setTarget: "${echo.url}/base"
    resources:
      - uriTemplate: /*
    endpoints:
      production: { type: dynamic, allow: [{ host: 127.0.0.1, ports: [${echo.port}] }] }
`)
  })
  after(async () => {
    await gateway.close()
    await echo.close()
    await nginx.close()
  })

  async function rawGet(path: string): Promise<string> {
    return rawExchange(gateway.url, `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
  }

  test('nginx behind a base URL serves the public file, and would serve the secret to an encoded dot segment', async () => {
    const ok = await request(`${gateway.url}/static/v1/ok.txt`)
    assert.equal(ok.statusCode, 200)
    assert.equal(await ok.body.text(), 'public file\n')
    // Straight to nginx: this is what a gateway that forwarded the path unchanged would have exposed.
    const direct = await rawExchange(nginx.url, 'GET /files/public/..%2fsecret.txt HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
    assert.match(direct, /secret file/)
  })

  test('encoded dot segments and encoded or plain backslashes never escape a base URL: 400 for every form', async () => {
    const forms = [
      '/static/v1/..%2fsecret.txt',
      '/static/v1/..%2F..%2Fetc/passwd',
      '/static/v1/%2e%2e%2fsecret.txt',
      '/static/v1/.%2e/secret.txt',
      '/static/v1/%2E./secret.txt',
      '/static/v1/..%5csecret.txt',
      '/static/v1/..\\secret.txt',
      '/static/v1/sub%5c..%5c..%5csecret.txt',
      '/static/v1/..;/secret.txt',
      '/static/v1/a/.%2fok.txt',
      '/static/v1/%2e',
      '/static/v1/%c0%ae%c0%ae/secret.txt',
      '/static/v1/%C0%AF..%c1%9csecret.txt',
      '/static/v1/%e0%80%ae%e0%80%ae/secret.txt',
    ]
    for (const path of forms) {
      const response = await rawGet(path)
      assert.equal(statusOf(response), 400, path)
      assert.match(response, /"code":"BAD_REQUEST"/, path)
      assert.doesNotMatch(response, /secret file/, path)
    }
  })

  test('a dynamic endpoint gets the same check: nothing reaches its backend', async () => {
    const before = echo.requests.length
    for (const path of ['/echo/v1/..%2fadmin', '/echo/v1/x/%2e%2e%5cadmin', '/echo/v1/x/..;/admin']) {
      assert.equal(statusOf(await rawGet(path)), 400, path)
    }
    assert.equal(echo.requests.length, before)
  })

  test('a rewrite built from client input cannot climb out of the base path either', async () => {
    const get = async (file: string, under: string) => {
      const response = await request(`${gateway.url}/renamed/v1/x`, { headers: { 'x-file': file, 'x-under': under } })
      return { status: response.statusCode, text: await response.body.text() }
    }
    const ok = await get('ok.txt', '')
    assert.equal(ok.status, 200)
    assert.equal(ok.text, 'public file\n')
    for (const [file, under] of [['..', '/secret.txt'], ['.', '/../secret.txt'], ['x', '/../../secret.txt'], ['x', '/..']]) {
      const response = await get(file!, under!)
      assert.equal(response.status, 400, `${file} ${under}`)
      assert.match(response.text, /mediation rewrote/)
      assert.doesNotMatch(response.text, /secret file/)
    }
  })

  test('invalid percent-encoding and %00 are 400 from the gateway itself, as nginx answers them', async () => {
    const before = echo.requests.length
    for (const rest of ['/%zz', '/ok.txt%', '/%4', '/ok%00.txt', '/%G1']) {
      const response = await rawGet(`/echo/v1${rest}`)
      assert.equal(statusOf(response), 400, rest)
      assert.match(response, /"code":"BAD_REQUEST"/, rest)
      const direct = await rawExchange(nginx.url, `GET /files/public${rest} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
      assert.equal(statusOf(direct), 400, `nginx: ${rest}`)
    }
    assert.equal(echo.requests.length, before, 'no request reached the backend')
  })

  test('an encoded slash that climbs nowhere, and dots inside a name, still pass', async () => {
    const before = echo.requests.length
    const response = await request(`${gateway.url}/echo/v1/repos/a%2Fb/..x/v1.2..3/.well-known`)
    assert.equal(response.statusCode, 200)
    assert.equal((await response.body.json() as { url: string }).url, '/base/repos/a%2Fb/..x/v1.2..3/.well-known')
    assert.equal(echo.requests.length, before + 1)
  })
})

/** A pino logger whose lines the test reads. */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, sink), lines }
}

/** A SOAP 1.1 envelope of about `bytes` bytes of dense markup (one tiny element per 4 bytes), the costliest to parse. */
function denseEnvelope(bytes: number): string {
  const head = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><r:order xmlns:r="urn:r"><r:id>7</r:id>'
  const tail = '</r:order></s:Body></s:Envelope>'
  return head + '<i/>'.repeat(Math.max(0, Math.ceil((bytes - head.length - tail.length) / 4))) + tail
}

/**
 * Runs `load` `runs` times while a steady stream of small requests goes to another API at `probeUrl`, and returns
 * how long the gateway stalled: per run, the longer of the event loop's longest delay (the gateway runs in this
 * process, so its loop is this one) and the slowest probe's latency above the baseline (the median probe before
 * any load); then the smallest over the runs. Both are taken because the delay histogram has missed a stall
 * that began right after it was enabled. Parsing on the event loop stalls it in every run; a busy shared
 * machine stalls it now and then, so the smallest of several runs tells the two apart.
 */
async function stallDuring(probeUrl: string, load: () => Promise<void>, runs = 1): Promise<{ stallMs: number; probes: number }> {
  const probe = async () => {
    const start = performance.now()
    const response = await request(probeUrl)
    await response.body.text()
    assert.equal(response.statusCode, 200)
    return performance.now() - start
  }
  const baseline: number[] = []
  for (let i = 0; i < 20; i++) baseline.push(await probe())
  baseline.sort((a, b) => a - b)
  const baselineMs = baseline[10]!
  let stallMs = Infinity
  let probes = 0
  for (let run = 0; run < runs; run++) {
    let loading = true
    const during: number[] = []
    const probing = (async () => {
      while (loading) {
        during.push(await probe())
        await sleep(1)
      }
    })()
    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    await load()
    delay.disable()
    loading = false
    await probing
    probes += during.length
    stallMs = Math.min(stallMs, Math.max(delay.max / 1e6, Math.max(...during) - baselineMs))
  }
  return { stallMs, probes }
}

describe('hostile payloads in mediation', () => {
  let backend: TestBackend
  let gateway: TestGateway
  let lines: Array<Record<string, unknown>>

  before(async () => {
    backend = await startEchoBackend()
    const captured = capturingLogger()
    lines = captured.lines
    gateway = await startGateway(
      `
apis:
  - name: orders
    context: /orders
    version: v1
    resources:
      - uriTemplate: /xml
        methods: [POST]
        inSequence:
          - property: { name: id, xpath: "$body/r:order/r:id", namespaces: { r: "urn:r" } }
          - filter:
              xpath: "count(//i) > 0"
              then: [ { header: { name: x-has-items, value: "yes" } } ]
          - header: { name: x-order-id, expression: "has(properties.id) ? properties.id : 'absent'" }
      - uriTemplate: /ctx
        methods: [POST]
        inSequence:
          - property: { name: wanted, value: "7" }
          - property: { name: match, xpath: "string($body/r:order/r:id = $ctx:wanted)", namespaces: { r: "urn:r" } }
          - header: { name: x-match, expression: "properties.match" }
      - uriTemplate: /ids
        methods: [POST]
        inSequence:
          - property: { name: ids, jsonPath: "$..id" }
          - property: { name: first, jsonPath: "$.items[0].name" }
          - header: { name: x-first, expression: "properties.first" }
      - uriTemplate: /json
        methods: [POST]
        inSequence:
          - property: { name: hit, jsonPath: "$.items[?(@.a.b == 1)]" }
          - header: { name: x-hit, expression: "has(properties.hit) ? 'present' : 'absent'" }
    endpoints:
      production: { type: http, url: "${backend.url}" }
  - name: other
    context: /other
    version: v1
    resources:
      - uriTemplate: /ping
        methods: [GET]
    endpoints:
      production: { type: http, url: "${backend.url}" }
`,
      captured.logger,
    )
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  async function post(path: string, body: string, contentType: string) {
    const response = await request(`${gateway.url}${path}`, { method: 'POST', body, headers: { 'content-type': contentType } })
    const text = await response.body.text()
    return { status: response.statusCode, text }
  }

  test('JSON, text, DOCTYPE and broken XML bodies give an XPath source no value: the request goes on, nothing logged as an error', async () => {
    const bodies: Array<[string, string]> = [
      ['{"order":{"id":7}}', 'application/json'],
      ['just some text', 'text/plain'],
      ['', 'text/xml'],
      ['<!DOCTYPE r [<!ENTITY e "7">]><r:order xmlns:r="urn:r"><r:id>&e;</r:id></r:order>', 'text/xml'],
      ['<!DOCTYPE', 'text/xml'],
      ['<r:order xmlns:r="urn:r"><r:id>7</r:order>', 'text/xml'],
      // Large enough to be parsed in the worker thread.
      [denseEnvelope(64 * 1024).replace('</r:order>', '</r:wrong>'), 'text/xml'],
      [JSON.stringify({ items: 'x'.repeat(64 * 1024) }), 'application/json'],
    ]
    for (const [body, type] of bodies) {
      const before = backend.requests.length
      const response = await post('/orders/v1/xml', body, type)
      assert.equal(response.status, 200, body)
      assert.equal(backend.requests.length, before + 1, body)
      assert.equal(backend.requests.at(-1)!.headers['x-order-id'], 'absent', body)
      assert.equal(backend.requests.at(-1)!.body.toString(), body, 'the backend gets the exact bytes')
    }
    assert.deepEqual(lines.filter((line) => Number(line.level) >= 50), [], 'no error logged')
    assert.ok(!lines.some((line) => JSON.stringify(line).includes('    at ')), 'no stack trace logged')
  })

  test('a well-formed XML body under the limit gives its value', async () => {
    const response = await post('/orders/v1/xml', denseEnvelope(32 * 1024), 'text/xml')
    assert.equal(response.status, 200)
    assert.equal(backend.requests.at(-1)!.headers['x-order-id'], '7')
    assert.equal(backend.requests.at(-1)!.headers['x-has-items'], 'yes')
  })

  test('an XPath that reads a property runs on the event loop, so it reads at most 16 KiB: a larger XML body is 413', async () => {
    const small = await post('/orders/v1/ctx', denseEnvelope(1024), 'text/xml')
    assert.equal(small.status, 200)
    assert.equal(backend.requests.at(-1)!.headers['x-match'], 'true')
    const large = await post('/orders/v1/ctx', denseEnvelope(64 * 1024), 'text/xml')
    assert.equal(large.status, 413)
    assert.match(large.text, /an XPath that reads properties \(\$ctx:\) may read: it runs on the event loop/)
  })

  test('a JSONPath that throws on this body gives no value, and is logged once as a warning without a stack', async () => {
    const before = lines.length
    for (let i = 0; i < 3; i++) {
      const response = await post('/orders/v1/json', '{"items":[{"x":1}]}', 'application/json')
      assert.equal(response.status, 200)
      assert.equal(backend.requests.at(-1)!.headers['x-hit'], 'absent')
    }
    const logged = lines.slice(before)
    assert.equal(logged.length, 1, JSON.stringify(logged))
    assert.equal(logged[0]!.level, 40)
    assert.equal(logged[0]!.query, 'jsonPath $.items[?(@.a.b == 1)]')
    assert.match(String(logged[0]!.problem), /Cannot read properties of undefined/)
    assert.ok(!JSON.stringify(logged[0]).includes('    at '), 'no stack trace')
    // A body on which the same JSONPath does not throw still gives its value.
    await post('/orders/v1/json', '{"items":[{"a":{"b":1}}]}', 'application/json')
    assert.equal(backend.requests.at(-1)!.headers['x-hit'], 'present')
  })

  test('a large XML body is parsed and queried off the event loop: another API never waits for it', async () => {
    // 256 KiB of `<i/>`: some 65,000 elements, and a `//i` query over them.
    const body = denseEnvelope(256 * 1024)
    const { stallMs } = await stallDuring(`${gateway.url}/other/v1/ping`, async () => {
      const response = await post('/orders/v1/xml', body, 'text/xml')
      assert.equal(response.status, 200)
      assert.equal(backend.requests.findLast((item) => item.method === 'POST')!.headers['x-order-id'], '7')
    }, 3)
    assert.equal(backend.requests.findLast((item) => item.method === 'POST')!.headers['x-has-items'], 'yes')
    // On the event loop, parse and query held it for 0.7 s and more here; off it, 20 to 150 ms of noise remain
    // when the machine is busy (a load of 11 on 2 cores).
    assert.ok(stallMs < 250, `the gateway stalled for ${stallMs.toFixed(0)} ms`)
  })

  test('a large JSON body is parsed and queried off the event loop: another API never waits for it', async () => {
    // 6 MiB of small objects, and a `$..id` that visits every value.
    const body = JSON.stringify({ items: Array.from({ length: 120_000 }, (_, i) => ({ id: i, name: `pizza ${i}`, size: 'large', qty: 2, notes: 'extra cheese' })) })
    const { stallMs } = await stallDuring(`${gateway.url}/other/v1/ping`, async () => {
      const response = await post('/orders/v1/ids', body, 'application/json')
      assert.equal(response.status, 200)
    }, 3)
    assert.equal(backend.requests.findLast((item) => item.method === 'POST')!.headers['x-first'], 'pizza 0')
    // On the event loop, JSON.parse and `$..id` held it for 0.5 s here.
    assert.ok(stallMs < 250, `the gateway stalled for ${stallMs.toFixed(0)} ms`)
  })

  test('a big XML body to an XPath source (over limits.mediationXmlBytes) is 413 at once, and another API never waits for it', async () => {
    const before = backend.requests.length
    const body = denseEnvelope(2 * 1024 * 1024)
    let status = 0
    const { stallMs, probes } = await stallDuring(`${gateway.url}/other/v1/ping`, async () => {
      status = (await post('/orders/v1/xml', body, 'text/xml')).status
    }, 2)
    assert.equal(status, 413)
    assert.ok(probes > 0)
    // Parsing it on the event loop took seconds; 300 ms leaves room for a busy 2-core machine.
    assert.ok(stallMs < 300, `the gateway stalled for ${stallMs.toFixed(0)} ms`)
    assert.equal(backend.requests.filter((item) => item.url === '/xml').length, backend.requests.slice(0, before).filter((item) => item.url === '/xml').length)
  })
})

describe('hostile SOAP envelopes', () => {
  let backend: TestBackend
  let second: TestBackend
  let gateway: TestGateway

  before(async () => {
    // Under 1 MiB, the most of an error response the soap endpoint reads to tell a Fault.
    const bigFault = denseEnvelope(1000 * 1024).replace('<r:order xmlns:r="urn:r">', '<s:Fault><faultcode>s:Server</faultcode><faultstring>no</faultstring><detail><r:order xmlns:r="urn:r">').replace('</r:order>', '</r:order></detail></s:Fault>')
    second = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml', 'x-backend': 'second' })
      res.end('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>')
    })
    backend = await startBackend((req, res) => {
      const fault = req.url === '/fault'
      res.writeHead(fault ? 500 : 200, { 'content-type': 'text/xml' })
      res.end(fault ? bigFault : '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>')
    })
    gateway = await startGateway(`
apis:
  - name: orders
    context: /orders
    version: v1
    soap: { validate: true }
    resources:
      - { uriTemplate: /, methods: [POST] }
    endpoints:
      production: { type: soap, url: "${backend.url}" }
  - name: faulty
    context: /faulty
    version: v1
    soap: {}
    endpoints:
      production: { type: soap, url: "${backend.url}/fault", faultIsFailure: true }
  - name: sessions
    context: /sessions
    version: v1
    soap: {}
    endpoints:
      production:
        type: loadbalance
        replayBufferBytes: 4194304
        session: { type: soap }
        endpoints: [{ type: soap, name: first, url: "${backend.url}" }, { type: soap, name: second, url: "${second.url}" }]
  - name: other
    context: /other
    version: v1
    resources:
      - uriTemplate: /ping
        methods: [GET]
    endpoints:
      production: { type: http, url: "${backend.url}" }
`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
    await second.close()
  })

  async function post(body: string) {
    const response = await request(`${gateway.url}/orders/v1`, { method: 'POST', body, headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '"urn:order"' } })
    return { status: response.statusCode, text: await response.body.text() }
  }

  test('a 3.9 MB envelope is validated off the event loop: another API never waits for it', async () => {
    const before = backend.requests.length
    const body = denseEnvelope(3.9 * 1024 * 1024)
    let status = 0
    const { stallMs, probes } = await stallDuring(`${gateway.url}/other/v1/ping`, async () => {
      status = (await post(body)).status
    }, 2)
    assert.equal(status, 200)
    assert.ok(probes > 0)
    // Parsed on the event loop it held every other request for 0.6 s and more; 300 ms leaves room for a busy machine.
    assert.ok(stallMs < 300, `the gateway stalled for ${stallMs.toFixed(0)} ms`)
    assert.equal(backend.requests.filter((item) => item.method === 'POST').length, backend.requests.slice(0, before).filter((item) => item.method === 'POST').length + 2)
    assert.equal(backend.requests.findLast((item) => item.method === 'POST')!.body.length, Buffer.byteLength(body), 'the backend gets the whole envelope')
  })

  test("a backend's 1 MB Fault is recognised off the event loop: another API never waits for it", async () => {
    let response = { status: 0, text: '' }
    const { stallMs, probes } = await stallDuring(`${gateway.url}/other/v1/ping`, async () => {
      const answer = await request(`${gateway.url}/faulty/v1`, { method: 'POST', body: denseEnvelope(512), headers: { 'content-type': 'text/xml' } })
      response = { status: answer.statusCode, text: await answer.body.text() }
    }, 3)
    // Recognised as a Fault (a failure that still carries the backend's answer), and passed on whole.
    assert.equal(response.status, 500)
    assert.match(response.text, /<faultcode>s:Server<\/faultcode>/)
    assert.ok(response.text.length > 1000 * 1024)
    const metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
    assert.match(metrics, /portico_upstream_errors_total\{[^}]*kind="soap-fault"[^}]*\} 3/)
    assert.ok(probes > 0)
    // Parsed on the event loop, the Fault held it some 250 ms once warm (700 ms cold); off it, 20 to 80 ms here.
    assert.ok(stallMs < 150, `the gateway stalled for ${stallMs.toFixed(0)} ms`)
  })

  test('a SOAP session id is read from a 3.9 MB envelope off the event loop, and its requests stay on one backend', async () => {
    const body = denseEnvelope(3.9 * 1024 * 1024).replace(
      '<s:Body>',
      '<s:Header><a:ServiceGroupId xmlns:a="http://ws.apache.org/namespaces/axis2">urn:uuid:big</a:ServiceGroupId></s:Header><s:Body>',
    )
    const served: string[] = []
    const { stallMs } = await stallDuring(`${gateway.url}/other/v1/ping`, async () => {
      const answer = await request(`${gateway.url}/sessions/v1`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } })
      await answer.body.text()
      assert.equal(answer.statusCode, 200)
      served.push(String(answer.headers['x-backend'] ?? 'first'))
    }, 3)
    assert.equal(new Set(served).size, 1, `one session, one backend: ${served.join(', ')}`)
    assert.ok(stallMs < 300, `the gateway stalled for ${stallMs.toFixed(0)} ms`)
  })

  test('large and small broken envelopes are refused the same way, wherever they were parsed', async () => {
    const large = denseEnvelope(256 * 1024).replace('</r:order>', '</r:wrong>')
    const small = denseEnvelope(1024).replace('</r:order>', '</r:wrong>')
    for (const body of [large, small]) {
      const response = await post(body)
      // A SOAP 1.1 client gets its error as a Fault, which SOAP 1.1 sends with status 500.
      assert.equal(response.status, 500, response.text)
      assert.match(response.text, /<faultcode>soap:Client<\/faultcode><faultstring>The request is not a valid SOAP envelope: not well-formed XML/)
    }
    const doctype = `<!DOCTYPE x>${denseEnvelope(64 * 1024)}`
    assert.match((await post(doctype)).text, /document type declaration/)
  })
})

describe('files a config names', () => {
  let dir: string
  let fifo: string

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'portico-files-'))
    fifo = join(dir, 'secret.fifo')
    // A FIFO with no writer: opening it for reading would wait for ever.
    execFileSync('mkfifo', [fifo])
    writeFileSync(join(dir, 'big-secret'), 'x'.repeat(100 * 1024))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  async function validate(endpoint: string) {
    const file = join(dir, 'portico.yaml')
    writeFileSync(file, `apis:\n  - name: a\n    context: /a\n    version: v1\n    endpoints:\n      production: ${endpoint}\n`)
    // Without the checks, each of these hung until this timeout killed it (code null).
    return runCli(['validate', file], 15_000)
  }

  const where = 'apis\\[0\\]\\.endpoints\\.production'
  const cases: Array<[string, string, RegExp]> = [
    ['wsdl: /dev/zero', '{ type: wsdl, wsdl: /dev/zero, service: S, port: P }', new RegExp(`${where}\\.wsdl: "/dev/zero" is not a regular file`)],
    ['tls.ca: /dev/urandom', '{ type: http, url: "https://127.0.0.1:1", security: { tls: { ca: /dev/urandom } } }', new RegExp(`${where}\\.security\\.tls\\.ca: "/dev/urandom" is not a regular file`)],
    ['tls.cert: a directory', '{ type: http, url: "https://127.0.0.1:1", security: { tls: { cert: /tmp, key: /tmp } } }', new RegExp(`${where}\\.security\\.tls\\.cert: "/tmp" is not a regular file`)],
    ['${file:/dev/zero}', '{ type: http, url: "http://127.0.0.1:1", security: { auth: { type: basic, username: u, password: "${file:/dev/zero}" } } }', new RegExp(`${where}\\.security\\.auth\\.password: \\$\\{file:/dev/zero\\}: "/dev/zero" is not a regular file`)],
    ['${file:FIFO}', '{ type: http, url: "http://127.0.0.1:1", security: { auth: { type: basic, username: u, password: "${file:FIFO}" } } }', new RegExp(`${where}\\.security\\.auth\\.password: .*secret\\.fifo" is not a regular file`)],
    ['${file:} too large', '{ type: http, url: "http://127.0.0.1:1", security: { auth: { type: basic, username: u, password: "${file:BIG}" } } }', new RegExp(`${where}\\.security\\.auth\\.password: .*big-secret" is 102400 bytes, more than the 65536 allowed`)],
    ['openapi: /dev/zero', '{ type: prototype, openapi: /dev/zero }', new RegExp(`${where}\\.openapi: "/dev/zero" is not a regular file`)],
    ['static response file: /dev/zero', '{ type: prototype, resources: [ { uriTemplate: "/*", responses: [ { file: /dev/zero } ] } ] }', new RegExp(`${where}\\.resources\\[0\\]\\.responses\\[0\\]\\.file: "/dev/zero" is not a regular file`)],
  ]
  for (const [name, endpoint, expected] of cases) {
    test(`validate refuses ${name} at once, naming the field`, async () => {
      const result = await validate(endpoint.replace('FIFO', fifo).replace('BIG', join(dir, 'big-secret')))
      assert.equal(result.code, 1, result.stderr)
      assert.match(result.stderr, expected)
    })
  }

  test('import refuses a device or a FIFO for every format, at once', async () => {
    for (const format of ['synapse', 'openapi', 'wso2']) {
      for (const file of ['/dev/zero', fifo]) {
        const result = await runCli(['import', format, file], 15_000)
        assert.notEqual(result.code, 0, `${format} ${file}`)
        assert.notEqual(result.code, null, `${format} ${file} hung`)
        assert.match(result.stderr, /is not a regular file/, `${format} ${file}`)
      }
    }
  })

  test('validate refuses a config file that is a device or a FIFO', async () => {
    for (const file of ['/dev/zero', fifo]) {
      const result = await runCli(['validate', file], 15_000)
      assert.equal(result.code, 1, result.stderr)
      assert.match(result.stderr, /is not a regular file/)
    }
  })
})

describe('loops and connections', () => {
  let backend: TestBackend
  let echo: TestBackend
  let gateway: TestGateway

  before(async () => {
    // With a Content-Length, so that an HTTP/1.0 keep-alive connection can carry more than one answer.
    backend = await startBackend((req, res, body) => {
      const payload = JSON.stringify({ url: req.url, headers: req.headers, body: body.toString() })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
      res.end(payload)
    })
    // Answers chunked: no length known before the body.
    echo = await startEchoBackend()
    // The dynamic endpoint's allow-list reaches the gateway's own listener.
    gateway = await startGateway(`
apis:
  - name: open
    context: /open
    version: v1
    inSequence:
      - setTarget: { expression: "request.headers['x-target']" }
    endpoints:
      production: { type: dynamic, allow: [ { host: 127.0.0.1 } ] }
  - name: plain
    context: /plain
    version: v1
    endpoints:
      production: { type: http, url: "${backend.url}" }
`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
    await echo.close()
  })

  test('a request that comes back to the gateway through its own listener is refused with 508 on its first return', async () => {
    const response = await request(`${gateway.url}/open/v1/x`, { headers: { 'x-target': `${gateway.url}/open/v1` } })
    const body = await response.body.text()
    // The inner pass answered 508 itself; the outer one relayed it, adding its Via entry once.
    assert.equal(response.statusCode, 508, body)
    assert.match(body, /"code":"LOOP_DETECTED"/)
    assert.equal(response.headers.via, VIA)
  })

  test('another gateway in the Via chain, even another Portico, is no loop', async () => {
    const response = await request(`${gateway.url}/plain/v1/x`, { headers: { via: '1.1 portico-0badcafe, 1.0 edge' } })
    assert.equal(response.statusCode, 200)
    const seen = (await response.body.json()) as { headers: Record<string, string> }
    assert.equal(seen.headers.via, `1.1 portico-0badcafe, 1.0 edge, ${VIA}`)
  })

  test('HTTP/1.0 pipelining: the first request is answered and the connection closed; the second never reaches the backend', async () => {
    for (const bytes of [
      // Keep-alive asked for, but the answer has no length (chunked from the backend): HTTP/1.0 must close.
      'GET /open/v1/one HTTP/1.0\r\nconnection: keep-alive\r\nx-target: ECHO\r\n\r\nGET /open/v1/two HTTP/1.0\r\nx-target: ECHO\r\n\r\n',
      'GET /plain/v1/one HTTP/1.0\r\n\r\nGET /plain/v1/two HTTP/1.0\r\n\r\n',
      'POST /plain/v1/one HTTP/1.0\r\ncontent-length: 2\r\n\r\nhiPOST /plain/v1/two HTTP/1.0\r\ncontent-length: 2\r\n\r\nhi',
      'GET /plain/v1/one HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\nGET /plain/v1/two HTTP/1.1\r\nhost: x\r\n\r\n',
    ]) {
      const before = backend.requests.length
      const start = performance.now()
      const echoBefore = echo.requests.length
      const response = await rawExchange(gateway.url, bytes.replaceAll('ECHO', echo.url), 5000)
      assert.ok(performance.now() - start < 4000, 'the gateway closed the connection')
      assert.equal([...response.matchAll(/^HTTP\/1\.1 \d{3}/gm)].length, 1, response)
      assert.equal(statusOf(response), 200, response)
      assert.match(response, /"url":"\/one"/)
      const seen = [...backend.requests.slice(before), ...echo.requests.slice(echoBefore)]
      assert.deepEqual(seen.map((item) => item.url), ['/one'])
    }
  })

  test('HTTP/1.0 with keep-alive: both pipelined requests are answered, in order', async () => {
    const before = backend.requests.length
    const response = await rawExchange(gateway.url, 'GET /plain/v1/one HTTP/1.0\r\nconnection: keep-alive\r\n\r\nGET /plain/v1/two HTTP/1.0\r\n\r\n', 5000)
    assert.deepEqual([...response.matchAll(/"url":"(\/\w+)"/g)].map((match) => match[1]), ['/one', '/two'])
    assert.deepEqual(backend.requests.slice(before).map((item) => item.url), ['/one', '/two'])
  })

  test('a WebSocket upgrade is refused with 501 at once and the connection closed; nothing reaches the backend', async () => {
    const before = backend.requests.length
    const start = performance.now()
    const response = await rawExchange(
      gateway.url,
      'GET /plain/v1/socket HTTP/1.1\r\nhost: x\r\nupgrade: WebSocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\nGET /plain/v1/two HTTP/1.1\r\nhost: x\r\n\r\n',
      5000,
    )
    assert.ok(performance.now() - start < 4000, 'the gateway closed the connection')
    assert.equal(statusOf(response), 501)
    assert.match(response, /"code":"UPGRADE_NOT_SUPPORTED"/)
    assert.match(response, /\r\nconnection: close\r\n/i)
    assert.equal(backend.requests.length, before)
  })

  test('another upgrade (h2c) is ignored: the request and its body go to the backend as HTTP/1.1, and the connection closes', async () => {
    const before = backend.requests.length
    const start = performance.now()
    const response = await rawExchange(
      gateway.url,
      'POST /plain/v1/one HTTP/1.1\r\nhost: x\r\nupgrade: h2c\r\nconnection: Upgrade, HTTP2-Settings\r\nhttp2-settings: AAMAAABkAAQAoAAAAAIAAAAA\r\ncontent-length: 5\r\n\r\nhelloGET /plain/v1/two HTTP/1.1\r\nhost: x\r\n\r\n',
      5000,
    )
    assert.ok(performance.now() - start < 4000, 'the gateway closed the connection')
    assert.equal(statusOf(response), 200)
    const seen = backend.requests.slice(before)
    assert.deepEqual(seen.map((item) => `${item.url} ${item.body}`), ['/one hello'])
    assert.equal(seen[0]!.headers.upgrade, undefined, 'Upgrade is hop-by-hop')
  })
})
