import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { protectPort, TargetGuard, TargetRefused } from '../src/endpoints/target-guard.ts'
import { startBackend, startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const SOAP_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
const ROUTE_NS = 'http://example.org/routing'

function soapRequest(backend: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="${SOAP_NS}">
  <soapenv:Header/>
  <soapenv:Body>
    <r:placeOrder xmlns:r="${ROUTE_NS}"><r:backend>${backend}</r:backend><r:item>42</r:item></r:placeOrder>
  </soapenv:Body>
</soapenv:Envelope>`
}

describe('mediation sequences and dynamic endpoints', () => {
  const backends: Record<string, TestBackend> = {}
  let gateway: TestGateway
  let adminPort: number

  before(async () => {
    for (const name of ['alpha', 'beta', 'gamma']) backends[name] = await startEchoBackend(name)
    const { alpha, beta, gamma } = backends as Record<'alpha' | 'beta' | 'gamma', TestBackend>
    gateway = await startGateway(`
limits: { mediationBodyBytes: 4096 }
apis:
  - name: orders
    context: /orders
    version: v1
    # Names for the three backends, visible to every resource's sequence.
    inSequence:
      - property: { name: alpha, value: "${alpha.url}" }
      - property: { name: beta, value: "${beta.url}" }
      - property: { name: gamma, value: "${gamma.url}" }
    outSequence:
      - header: { name: X-Routed-By, expression: "has(properties.choice) ? properties.choice : 'none'" }
    resources:
      - uriTemplate: /by-header/*
        inSequence:
          - switch:
              source: { expression: "request.headers['x-backend']" }
              cases:
                - { regex: "alpha|beta", do: [ { property: { name: choice, expression: "request.headers['x-backend']" } } ] }
                - { regex: "gam+a", do: [ { property: { name: choice, value: gamma } } ] }
              default:
                - respond: { status: 400, body: "say X-Backend: alpha, beta or gamma" }
          - property: { name: target, expression: "properties[properties.choice]" }
          - setTarget: "{+target}"
      - uriTemplate: /by-query/*
        inSequence:
          - property: { name: choice, expression: "request.query.backend" }
          - setTarget: { expression: "properties[properties.choice]" }
      - uriTemplate: /by-json/*
        inSequence:
          - property: { name: choice, jsonPath: "$.order.backend" }
          - setTarget: { expression: "properties[properties.choice]" }
      - uriTemplate: /by-soap/*
        inSequence:
          - property: { name: choice, xpath: "$body/r:placeOrder/r:backend", namespaces: { r: "${ROUTE_NS}" } }
          - filter:
              xpath: "//s:Envelope/s:Body/r:placeOrder"
              namespaces: { s: "${SOAP_NS}", r: "${ROUTE_NS}" }
              then: [ { setTarget: { expression: "properties[properties.choice]" } } ]
              else: [ { respond: { status: 422, body: "not a placeOrder request" } } ]
      - uriTemplate: /guarded/*
        inSequence:
          - filter:
              if: "!('authorization' in request.headers)"
              then:
                - respond: { status: 403, headers: { content-type: application/json }, body: '{"error":"no credentials","path":"{uri.var.rest}"}' }
          - setTarget: "{+alpha}"
      - uriTemplate: /rewrite/{item}
        inSequence:
          - rewrite: { path: "/v2/items/{item}", query: "source=gateway&tag={tag}" }
          - property: { name: tag, value: "a b" }
          - rewrite: { query: "source=gateway&tag={tag}" }
          - header: { name: X-Item, expression: "request.uriVariables.item" }
          - header: { name: X-Remove-Me, remove: true }
          - setTarget: "{+beta}/base"
      - uriTemplate: /no-target
    endpoints:
      production:
        type: dynamic
        allow:
          - { host: 127.0.0.1, schemes: [http], ports: [${alpha.port}, ${beta.port}, ${gamma.port}] }
  - name: open
    context: /open
    version: v1
    # Takes its target straight from a header: only the allow-list and the address checks stand in the way.
    inSequence:
      - setTarget: { expression: "request.headers['x-target']" }
    endpoints:
      production:
        type: dynamic
        maxOrigins: 1
        allow:
          - { host: 127.0.0.1 }
          - { host: localhost }
          - { host: 169.254.169.254 }
          - { host: "*.example.test" }
  - name: trusted
    context: /trusted
    version: v1
    inSequence:
      - setTarget: { expression: "request.headers['x-target']" }
    endpoints:
      production:
        type: dynamic
        allowAdminPort: true
        allow: [ { host: 127.0.0.1 } ]
`)
    adminPort = Number(new URL(gateway.adminUrl).port)
  })
  after(async () => {
    await gateway.close()
    for (const backend of Object.values(backends)) await backend.close()
  })

  async function call(path: string, init: Parameters<typeof request>[1] = {}) {
    const response = await request(`${gateway.url}${path}`, { ...init, headersTimeout: 5000, bodyTimeout: 5000 })
    const text = await response.body.text()
    return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) }
  }

  function requestCounts(): Record<string, number> {
    return Object.fromEntries(Object.entries(backends).map(([name, backend]) => [name, backend.requests.length]))
  }

  test('routes by a request header to each of three backends', async () => {
    for (const [header, expected] of [['alpha', 'alpha'], ['beta', 'beta'], ['gammma', 'gamma']] as const) {
      const response = await call('/orders/v1/by-header/list?page=2', { headers: { 'x-backend': header } })
      assert.equal(response.status, 200)
      assert.equal(response.json().backend, expected)
      assert.equal(response.json().url, '/by-header/list?page=2')
      assert.equal(response.headers['x-routed-by'], expected, 'properties reach the OUT sequence')
    }
  })

  test('a switch without a matching case runs its default: here a respond mediator', async () => {
    const before = requestCounts()
    const response = await call('/orders/v1/by-header/list', { headers: { 'x-backend': 'delta' } })
    assert.equal(response.status, 400)
    assert.equal(response.text, 'say X-Backend: alpha, beta or gamma')
    assert.deepEqual(requestCounts(), before)
  })

  test('routes by a query parameter', async () => {
    for (const name of ['gamma', 'alpha', 'beta']) {
      const response = await call(`/orders/v1/by-query/x?backend=${name}`)
      assert.equal(response.status, 200)
      assert.equal(response.json().backend, name)
    }
  })

  test('routes by a JSON body field, and the backend receives the exact bytes the client sent', async () => {
    for (const name of ['beta', 'gamma', 'alpha']) {
      // Odd spacing, key order, escapes and non-ASCII text: any re-serialisation would change these bytes.
      const body = Buffer.from(`{ "z": 1.50,\n  "order" : {"backend":"${name}", "note":"caf\\u00e9 ☕"} }  `, 'utf8')
      const backend = backends[name]!
      const seen = backend.requests.length
      const response = await call('/orders/v1/by-json/orders', { method: 'POST', body, headers: { 'content-type': 'application/json' } })
      assert.equal(response.status, 200)
      assert.equal(response.json().backend, name)
      assert.ok(backend.requests[seen]!.body.equals(body))
      assert.equal(backend.requests[seen]!.headers['content-length'], String(body.length))
    }
  })

  test('a chunked body read by a sequence reaches the backend byte for byte', async () => {
    const parts = ['{"order":', '{"backend":"gamma",', `"pad":"${'x'.repeat(1500)}"}}`]
    const expected = Buffer.from(parts.join(''))
    const seen = backends.gamma!.requests.length
    const response = await call('/orders/v1/by-json/orders', { method: 'POST', body: Readable.from(parts.map((part) => Buffer.from(part))) })
    assert.equal(response.status, 200)
    assert.equal(response.json().backend, 'gamma')
    assert.ok(backends.gamma!.requests[seen]!.body.equals(expected))
  })

  test('routes by an XPath with namespaces over a SOAP body', async () => {
    for (const name of ['alpha', 'gamma', 'beta']) {
      const body = soapRequest(name)
      const response = await call('/orders/v1/by-soap/OrderService', { method: 'POST', body, headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: 'placeOrder' } })
      assert.equal(response.status, 200)
      assert.equal(response.json().backend, name)
      assert.equal(response.json().body, body)
    }
    const other = await call('/orders/v1/by-soap/OrderService', { method: 'POST', body: `<e:Envelope xmlns:e="${SOAP_NS}"><e:Body><cancel/></e:Body></e:Envelope>` })
    assert.equal(other.status, 422)
  })

  test('a body over the mediation limit is refused with 413 before any backend sees it', async () => {
    const before = requestCounts()
    const big = JSON.stringify({ order: { backend: 'alpha' }, pad: 'x'.repeat(5000) })
    const declared = await call('/orders/v1/by-json/orders', { method: 'POST', body: big })
    assert.equal(declared.status, 413)
    assert.equal(declared.json().code, 'PAYLOAD_TOO_LARGE')
    const chunked = await call('/orders/v1/by-json/orders', { method: 'POST', body: Readable.from([Buffer.from(big.slice(0, 3000)), Buffer.from(big.slice(3000))]) })
    assert.equal(chunked.status, 413)
    assert.deepEqual(requestCounts(), before)
  })

  test('a sequence that does not read the body leaves it streaming, whatever its size', async () => {
    const body = Buffer.alloc(64 * 1024, 'y')
    const seen = backends.beta!.requests.length
    const response = await call('/orders/v1/by-header/upload', { method: 'POST', body, headers: { 'x-backend': 'beta' } })
    assert.equal(response.status, 200)
    assert.ok(backends.beta!.requests[seen]!.body.equals(body))
  })

  test('respond answers without calling a backend; otherwise the request goes through', async () => {
    const before = requestCounts()
    const refused = await call('/orders/v1/guarded/secret/file')
    assert.equal(refused.status, 403)
    assert.equal(refused.headers['content-type'], 'application/json')
    assert.deepEqual(refused.json(), { error: 'no credentials', path: '' })
    assert.deepEqual(requestCounts(), before)
    const allowed = await call('/orders/v1/guarded/secret/file', { headers: { authorization: 'Bearer t' } })
    assert.equal(allowed.status, 200)
    assert.equal(allowed.json().backend, 'alpha')
  })

  test('rewrite changes path and query; header sets and removes request headers', async () => {
    const response = await call('/orders/v1/rewrite/a%2Fb?dropped=1', { headers: { 'x-remove-me': 'secret' } })
    assert.equal(response.status, 200)
    const echoed = response.json()
    assert.equal(echoed.backend, 'beta')
    assert.equal(echoed.url, '/base/v2/items/a%2Fb?source=gateway&tag=a%20b')
    assert.equal(echoed.headers['x-item'], 'a/b')
    assert.equal(echoed.headers['x-remove-me'], undefined)
  })

  test('a dynamic endpoint without a target is a 500 TARGET_NOT_SET, not a call', async () => {
    const response = await call('/orders/v1/no-target')
    assert.equal(response.status, 500)
    assert.equal(response.json().code, 'TARGET_NOT_SET')
    assert.match(response.json().message, /the IN sequence set no target; add a setTarget mediator/)
  })

  test('targets outside the allow-list are refused with 403', async () => {
    const before = requestCounts()
    for (const target of ['http://10.1.2.3:8080', 'https://evil.example.com', 'ftp://127.0.0.1/', 'not a url']) {
      const response = await call('/open/v1/x', { headers: { 'x-target': target } })
      assert.equal(response.status, 403, target)
      assert.equal(response.json().code, 'TARGET_NOT_ALLOWED')
      assert.match(response.json().message, /not in the endpoint's allow-list|must use http or https|not an absolute URL/, target)
    }
    // The orders API allows only its three backends' ports: another port on the same host is refused.
    const sneaky = await call(`/orders/v1/by-query/x?backend=nothing`)
    assert.equal(sneaky.status, 500, 'no such property: no target')
    assert.deepEqual(requestCounts(), before)
  })

  test("the gateway's admin port is refused even when the allow-list takes any port of the host", async () => {
    const direct = await call('/open/v1/health', { headers: { 'x-target': `http://127.0.0.1:${adminPort}` } })
    assert.equal(direct.status, 403)
    assert.equal(direct.json().code, 'TARGET_NOT_ALLOWED')
    assert.match(direct.json().message, new RegExp(`open:v1:production: target-refused\\): the target 127\\.0\\.0\\.1:${adminPort} is the gateway's own admin port`))
    // By name: the check runs on the address the name resolves to, when the connection opens.
    const byName = await call('/open/v1/health', { headers: { 'x-target': `http://localhost:${adminPort}` } })
    assert.equal(byName.status, 403)
    assert.equal(byName.json().code, 'TARGET_NOT_ALLOWED')
    assert.match(byName.json().message, /is the gateway's own admin port/)
    // The same target through an endpoint that explicitly allows the admin port reaches it.
    const trusted = await call('/trusted/v1/health', { headers: { 'x-target': `http://127.0.0.1:${adminPort}` } })
    assert.equal(trusted.status, 200)
    assert.deepEqual(trusted.json(), { status: 'ok' })
  })

  test('the cloud metadata address is refused even when listed', async () => {
    const response = await call('/open/v1/latest/meta-data/', { headers: { 'x-target': 'http://169.254.169.254' } })
    assert.equal(response.status, 403)
    assert.equal(response.json().code, 'TARGET_NOT_ALLOWED')
    assert.match(response.json().message, /169\.254\.169\.254 is link-local or a cloud metadata service/)
  })

  test('an allowed target works by IP and by name, and the pool cache stays within maxOrigins', async () => {
    const byIp = await call('/open/v1/hello', { headers: { 'x-target': backends.alpha!.url } })
    assert.equal(byIp.json().backend, 'alpha')
    const byName = await call('/open/v1/hello', { headers: { 'x-target': `http://localhost:${backends.beta!.port}/prefix` } })
    assert.equal(byName.status, 200)
    assert.equal(byName.json().backend, 'beta')
    assert.equal(byName.json().url, '/prefix/hello')
    const open = gateway.instance.gateway.snapshot.roots.find((endpoint) => endpoint.id === 'open:v1:production')!
    const status = open.describe()
    assert.equal(status.type, 'dynamic')
    assert.equal(status.origins, 1)
  })

  test('an origin evicted from the pool cache closes its connections', async () => {
    const first = await startEchoBackend('first')
    const second = await startEchoBackend('second')
    const connections = (backend: TestBackend) => new Promise<number>((resolve, reject) => backend.server.getConnections((error, count) => (error ? reject(error) : resolve(count))))
    try {
      assert.equal((await call('/open/v1/a', { headers: { 'x-target': first.url } })).json().backend, 'first')
      assert.equal(await connections(first), 1, 'a keep-alive connection stays open while the origin is cached')
      // maxOrigins is 1: using a second origin evicts the first, whose pool then closes its idle connection.
      assert.equal((await call('/open/v1/a', { headers: { 'x-target': second.url } })).json().backend, 'second')
      const deadline = Date.now() + 3000
      while ((await connections(first)) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.equal(await connections(first), 0)
      assert.equal(await connections(second), 1)
    } finally {
      await first.close()
      await second.close()
    }
  })
})

describe('mediation config errors', () => {
  function problems(yaml: string): string[] {
    try {
      parseConfig(yaml, 'bad.yaml')
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`)
      throw error
    }
    return []
  }

  const api = (sequence: string) => `
apis:
  - name: a
    context: /a
    version: v1
    resources:
      - uriTemplate: /*
        inSequence:
${sequence}
    endpoints:
      production: { type: dynamic, allow: [ { host: 127.0.0.1 } ] }
`

  test('a CEL syntax error names the mediator path', () => {
    const found = problems(api(`          - filter: { if: "request.headers[", then: [] }`))
    assert.equal(found.length, 1)
    assert.match(found[0]!, /^apis\[0\]\.resources\[0\]\.inSequence\[0\]\.filter\.if: is not a valid CEL expression/)
  })

  test('a misspelt variable or function in CEL is a config error, not a filter that is always false', () => {
    const found = problems(
      api(`          - filter: { if: "requst.method == 'GET'", then: [] }
          - property: { name: x, expression: "lower(request.path)" }`),
    )
    assert.deepEqual(found, [
      'apis[0].resources[0].inSequence[0].filter.if: is not a valid CEL expression: unknown name "requst"; expressions see request, response, properties, api, environment, consumer',
      'apis[0].resources[0].inSequence[1].property.expression: is not a valid CEL expression: unknown function "lower"',
    ])
  })

  test('XPath, JSONPath, regex and template errors name their fields, nested ones too', () => {
    const found = problems(
      api(`          - property: { name: x, xpath: "//m:[" }
          - switch:
              source: { jsonPath: "order.id" }
              cases: [ { regex: "(", do: [ { setTarget: "http://{host" } ] } ]`),
    )
    assert.deepEqual(
      found.map((line) => line.split(':')[0]),
      [
        'apis[0].resources[0].inSequence[0].property.xpath',
        'apis[0].resources[0].inSequence[1].switch.source.jsonPath',
        'apis[0].resources[0].inSequence[1].switch.cases[0].regex',
        'apis[0].resources[0].inSequence[1].switch.cases[0].do[0].setTarget',
      ],
    )
  })

  test('unknown mediators, two in one item and a missing value source are reported', () => {
    const found = problems(
      api(`          - enrich: {}
          - { log: {}, respond: {} }
          - property: { name: x }`),
    )
    assert.deepEqual(found, [
      'apis[0].resources[0].inSequence[0]: unknown field "enrich"',
      'apis[0].resources[0].inSequence[0]: must be one mediator: property, header, filter, switch, setTarget, rewrite, respond, log',
      'apis[0].resources[0].inSequence[1]: holds respond and log; write one mediator per list item',
      'apis[0].resources[0].inSequence[2].property: needs one of "value", "expression", "jsonPath", "xpath" (or "remove: true")',
    ])
  })

  test('a dynamic endpoint needs an allow-list', () => {
    const found = problems(`
apis:
  - { name: a, context: /a, version: v1, endpoints: { production: { type: dynamic, allow: [] } } }
`)
    assert.deepEqual(found, ['apis[0].endpoints.production.allow: must list at least one allowed origin'])
  })
})

describe('dynamic target guard', () => {
  const guard = new TargetGuard({ allow: [{ host: '127.0.0.1', schemes: ['http'] }, { host: '*.example.test', schemes: ['https'], ports: [8443] }, { host: '169.254.169.254', schemes: ['http', 'https'] }], allowLinkLocal: false, allowAdminPort: false })

  function refusal(target: string): string {
    try {
      guard.check(target)
    } catch (error) {
      if (error instanceof TargetRefused) return error.message
      throw error
    }
    return ''
  }

  test('says why a target is refused', () => {
    assert.match(refusal('https://127.0.0.1/'), /https:\/\/127\.0\.0\.1 is not in the endpoint's allow-list/)
    assert.match(refusal('https://api.example.test/'), /not in the endpoint's allow-list/)
    assert.match(refusal('https://example.test:8443/'), /not in the endpoint's allow-list/, '*.domain is names below the domain only')
    assert.match(refusal('http://169.254.169.254/latest'), /link-local or a cloud metadata service/)
    assert.match(refusal('http://user:pw@127.0.0.1/'), /credentials/)
    assert.equal(refusal('https://api.example.test:8443/v1/'), '')
  })

  test('other spellings of a protected address are the same address', () => {
    const open = new TargetGuard({ allow: [{ host: '169.254.169.254', schemes: ['http'] }, { host: '::ffff:a9fe:a9fe', schemes: ['http'] }], allowLinkLocal: false, allowAdminPort: false })
    for (const target of ['http://2852039166/', 'http://0xa9.0xfe.0xa9.0xfe/', 'http://[::ffff:169.254.169.254]/']) {
      assert.throws(() => open.check(target), /link-local or a cloud metadata service/, target)
    }
    const allowed = new TargetGuard({ allow: [{ host: '169.254.169.254', schemes: ['http'] }], allowLinkLocal: true, allowAdminPort: false })
    assert.equal(allowed.check('http://169.254.169.254/latest').origin, 'http://169.254.169.254')
  })

  test("refuses the admin port on any of this machine's addresses, by literal or after resolving a name", async () => {
    const release = protectPort(45999)
    try {
      assert.match(refusal('http://127.0.0.1:45999/metrics'), /the gateway's own admin port/)
      const resolved = await new Promise<unknown>((resolve) => guard.lookupFor(45999)('localhost', { all: true }, (error) => resolve(error)))
      assert.ok(resolved instanceof TargetRefused)
    } finally {
      release()
    }
    assert.equal(refusal('http://127.0.0.1:45999/metrics'), '')
  })
})

describe('OUT sequences and dynamic leaf settings', () => {
  let backend: TestBackend
  let gateway: TestGateway

  before(async () => {
    backend = await startBackend((req, res) => {
      if (req.url!.startsWith('/slow')) return // never answers: the response timeout must fire
      const body = JSON.stringify({ status: req.url!.includes('fail') ? 'failed' : 'ok', id: 7 })
      res.writeHead(200, { 'content-type': 'application/json', 'x-internal': 'secret' })
      res.end(body)
    })
    gateway = await startGateway(`
apis:
  - name: out
    context: /out
    version: v1
    inSequence:
      - setTarget: "${backend.url}"
    outSequence:
      - property: { name: outcome, jsonPath: "$.status" }
      - header: { name: X-Internal, remove: true }
      - header: { name: X-Outcome, expression: "properties.outcome + '/' + string(response.status)" }
      - filter:
          source: { expression: "properties.outcome" }
          regex: failed
          then:
            - respond: { status: 502, headers: { content-type: application/json }, body: '{"error":"backend reported {outcome}"}' }
    endpoints:
      production:
        type: dynamic
        timeouts: { response: 300ms }
        allow: [ { host: 127.0.0.1, ports: [${backend.port}] } ]
`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  test('an OUT sequence reads the response body, edits headers, and passes the body on unchanged', async () => {
    const response = await request(`${gateway.url}/out/v1/items`, { headersTimeout: 5000, bodyTimeout: 5000 })
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['x-outcome'], 'ok/200')
    assert.equal(response.headers['x-internal'], undefined)
    assert.equal(await response.body.text(), '{"status":"ok","id":7}')
  })

  test('an OUT sequence can replace the response with its own', async () => {
    const response = await request(`${gateway.url}/out/v1/fail`, { headersTimeout: 5000, bodyTimeout: 5000 })
    assert.equal(response.statusCode, 502)
    assert.deepEqual(await response.body.json(), { error: 'backend reported failed' })
  })

  test("a dynamic endpoint applies its leaf's response timeout", async () => {
    const started = performance.now()
    const response = await request(`${gateway.url}/out/v1/slow`, { headersTimeout: 5000, bodyTimeout: 5000 })
    assert.equal(response.statusCode, 504)
    assert.equal(((await response.body.json()) as { code: string }).code, 'BACKEND_TIMEOUT')
    assert.ok(performance.now() - started < 3000)
  })
})

describe('dynamic endpoints as leaves like any other', () => {
  let backend: TestBackend
  let standby: TestBackend
  let gateway: TestGateway

  before(async () => {
    backend = await startEchoBackend('secured')
    standby = await startEchoBackend('standby')
    gateway = await startGateway(`
apis:
  - name: leafy
    context: /leafy
    version: v1
    inSequence:
      - setTarget: { expression: "request.headers['x-target']" }
    endpoints:
      production:
        type: failover
        endpoints:
          - type: dynamic
            name: chosen
            security: { auth: { type: basic, username: gateway, password: s3cret } }
            allow: [ { host: 127.0.0.1, ports: [${backend.port}] } ]
          - { type: http, name: fallback, url: "${standby.url}" }
`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
    await standby.close()
  })

  test("backend credentials apply to a dynamic leaf's requests", async () => {
    const response = await request(`${gateway.url}/leafy/v1/x`, { headers: { 'x-target': backend.url }, headersTimeout: 5000, bodyTimeout: 5000 })
    const body = (await response.body.json()) as { backend: string; headers: Record<string, string> }
    assert.equal(body.backend, 'secured')
    assert.equal(body.headers.authorization, `Basic ${Buffer.from('gateway:s3cret').toString('base64')}`)
  })

  test('in a failover group, a refused target moves on to the next member and never suspends the dynamic leaf', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await request(`${gateway.url}/leafy/v1/x`, { headers: { 'x-target': 'http://169.254.169.254' }, headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(((await response.body.json()) as { backend: string }).backend, 'standby')
    }
    const chosen = await request(`${gateway.url}/leafy/v1/x`, { headers: { 'x-target': backend.url }, headersTimeout: 5000, bodyTimeout: 5000 })
    assert.equal(((await chosen.body.json()) as { backend: string }).backend, 'secured', 'the dynamic leaf still takes traffic')
  })
})
