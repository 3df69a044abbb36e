import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import * as soap from 'soap'
import { request } from 'undici'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { FIXTURES, startCalculator, type SoapService } from './support/soap-service.ts'

const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/'
const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope'

/** A SOAP 1.1 Add request as a hand-written client would send it: comments, odd spacing, CRLF and non-ASCII. */
const ADD11 =
  `<?xml version="1.0" encoding="utf-8"?>\r\n<!-- sent by hand -->\r\n<soapenv:Envelope xmlns:soapenv="${SOAP11}"   xmlns:c="http://example.com/calculator">\r\n` +
  `  <soapenv:Header/>\n  <soapenv:Body>\n    <c:Add><c:a>2</c:a>  <c:b>3</c:b><!-- zwei plus drei, größer --></c:Add>\n  </soapenv:Body>\n</soapenv:Envelope>\n`
const ADD12 = `<env:Envelope xmlns:env="${SOAP12}"><env:Body><c:Add xmlns:c="http://example.com/calculator"><c:a>40</c:a><c:b>2</c:b></c:Add></env:Body></env:Envelope>`

/** An error response longer than any Fault the gateway inspects: it must still arrive whole. */
const LONG_ERROR = `<error>${'e'.repeat(2 * 1024 * 1024)}</error>`

const XXE =
  `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
  `<soap:Envelope xmlns:soap="${SOAP11}"><soap:Body><c:Add xmlns:c="http://example.com/calculator"><c:a>&xxe;</c:a><c:b>1</c:b></c:Add></soap:Body></soap:Envelope>`
const LAUGHS =
  `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
  Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('') +
  `]><soap:Envelope xmlns:soap="${SOAP11}"><soap:Body><c:Add xmlns:c="http://example.com/calculator"><c:a>&lol9;</c:a></c:Add></soap:Body></soap:Envelope>`

function post(url: string, body: string | Buffer, contentType: string, headers: Record<string, string> = {}) {
  return request(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers }, headersTimeout: 5000, bodyTimeout: 5000 })
}

/** The `soap` client's view of a Fault: the parsed envelope it attaches to the error it throws. */
async function soapFault(call: Promise<unknown>): Promise<{ status: number; fault: Record<string, any> }> {
  try {
    await call
  } catch (error) {
    const e = error as { response?: { status: number }; root?: { Envelope: { Body: { Fault: Record<string, any> } } } }
    assert.ok(e.root, `expected a SOAP Fault, got ${(error as Error).message}`)
    return { status: e.response!.status, fault: e.root.Envelope.Body.Fault }
  }
  assert.fail('expected the call to fail with a SOAP Fault')
}

describe('SOAP and WSDL endpoints', () => {
  let calc11: SoapService
  let calc12: SoapService
  let files: TestBackend
  let sink: TestBackend
  let gateway: TestGateway
  let dir: string
  let closedPort: number
  let sinkDigest = ''
  let sinkBytes = 0
  let hanging: TestBackend

  before(async () => {
    calc11 = await startCalculator('calculator11.wsdl')
    calc12 = await startCalculator('calculator12.wsdl')
    // Copies of the WSDLs that name the running services, as files (SOAP 1.1) and served over HTTP (SOAP 1.2).
    dir = await mkdtemp(join(tmpdir(), 'portico-soap-'))
    const wsdl11 = (await readFile(`${FIXTURES}calculator11.wsdl`, 'utf8')).replace('http://backend.invalid/calculator11', calc11.url)
    const wsdl12 = (await readFile(`${FIXTURES}calculator12.wsdl`, 'utf8')).replace('http://backend.invalid/calculator12', calc12.url)
    await writeFile(join(dir, 'calculator11.wsdl'), wsdl11)
    const served: Record<string, string> = {
      '/wsdl/calculator12.wsdl': wsdl12,
      '/wsdl/calculator-types.xsd': await readFile(`${FIXTURES}calculator-types.xsd`, 'utf8'),
      '/wsdl/split/service.wsdl': (await readFile(`${FIXTURES}split/service.wsdl`, 'utf8')).replace('http://backend.invalid/calculator11', calc11.url),
      '/wsdl/split/abstract.wsdl': await readFile(`${FIXTURES}split/abstract.wsdl`, 'utf8'),
    }
    files = await startBackend((req, res) => {
      const text = served[req.url!]
      res.writeHead(text ? 200 : 404, { 'content-type': 'text/xml' })
      res.end(text ?? '')
    })
    // A backend that hashes what it receives, for envelopes too large to hold.
    sink = await startBackend(
      (req, res) => {
        if (req.url === '/long-error') {
          req.resume()
          res.writeHead(500, { 'content-type': 'text/xml' })
          return res.end(LONG_ERROR)
        }
        const hash = createHash('sha256')
        sinkBytes = 0
        req.on('data', (chunk: Buffer) => {
          sinkBytes += chunk.length
          hash.update(chunk)
        })
        req.on('end', () => {
          sinkDigest = hash.digest('hex')
          res.writeHead(200, { 'content-type': 'text/xml' })
          res.end(`<s:Envelope xmlns:s="${SOAP11}"><s:Body/></s:Envelope>`)
        })
      },
      { streaming: true },
    )
    hanging = await startBackend(() => {})
    const closed = await startBackend(() => {})
    closedPort = closed.port
    await closed.close()

    const calc11File = join(dir, 'calculator11.wsdl')
    gateway = await startGateway(`
apis:
  - name: calc11
    context: /calc11
    version: v1
    soap: {}
    endpoints:
      production: { type: wsdl, wsdl: "${calc11File}", service: CalculatorService, port: CalculatorSoap11Port }
  - name: calc12
    context: /calc12
    version: v1
    soap: { validate: true }
    endpoints:
      production:
        type: wsdl
        wsdl: "${files.url}/wsdl/calculator12.wsdl"
        service: CalculatorService
        port: CalculatorSoap12Port
        faultIsFailure: true
  - name: direct
    context: /direct
    version: v1
    soap: {}
    endpoints:
      production: { type: soap, url: "${calc11.url}" }
  - name: validated
    context: /validated
    version: v1
    soap: { validate: true, maxEnvelopeBytes: 4096 }
    resources:
      - { uriTemplate: /, methods: [POST] }
    endpoints:
      production: { type: soap, url: "${calc11.url}" }
  - name: sink
    context: /sink
    version: v1
    soap: {}
    endpoints:
      production: { type: soap, url: "${sink.url}/big" }
  - name: split
    context: /split
    version: v1
    soap: {}
    endpoints:
      production: { type: wsdl, wsdl: "${files.url}/wsdl/split/service.wsdl", service: CalculatorService, port: CalculatorSoap11Port }
  - name: public
    context: /public
    version: v1
    soap: {}
    endpoints:
      production: { type: wsdl, wsdl: "${calc11File}", service: CalculatorService, port: CalculatorSoap11Port, publicUrl: "https://api.example.com/soap/" }
  - name: nowsdl
    context: /nowsdl
    version: v1
    soap: {}
    endpoints:
      production: { type: wsdl, wsdl: "${files.url}/wsdl/missing.wsdl", service: CalculatorService, port: CalculatorSoap11Port }
  - name: longerror
    context: /longerror
    version: v1
    soap: {}
    endpoints:
      production: { type: soap, url: "${sink.url}/long-error", faultIsFailure: true }
  - name: slow
    context: /slow
    version: v1
    soap: {}
    endpoints:
      production: { type: soap, url: "${hanging.url}/calculator", timeouts: { response: 300ms } }
  - name: down
    context: /down
    version: v1
    soap: {}
    endpoints:
      production: { type: soap, url: "http://127.0.0.1:${closedPort}/calculator", timeouts: { connect: 2s } }
  - name: rest
    context: /rest
    version: v1
    resources:
      - uriTemplate: /add
        methods: [POST]
        endpoints:
          production:
            type: soap
            url: "${calc11.url}"
            rest:
              action: http://example.com/calculator/Add
              template: |
                <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:c="http://example.com/calculator">
                  <soap:Body><c:Add><c:a>{{a}}</c:a><c:b>{{b}}</c:b></c:Add></soap:Body>
                </soap:Envelope>
      - uriTemplate: /divide/{a}/{b}
        methods: [GET]
        endpoints:
          production:
            type: wsdl
            wsdl: "${files.url}/wsdl/calculator12.wsdl"
            service: CalculatorService
            port: CalculatorSoap12Port
            rest:
              soapVersion: "1.2"
              action: http://example.com/calculator/Divide
              template: |
                <soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:c="http://example.com/calculator">
                  <soap:Body><c:Divide><c:a>{{uri.var.a}}</c:a><c:b>{{uri.var.b}}</c:b></c:Divide></soap:Body>
                </soap:Envelope>
`)
  })

  after(async () => {
    await gateway?.close()
    await Promise.all([calc11?.close(), calc12?.close(), files?.close(), sink?.close(), hanging?.close()])
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  test('SOAP 1.1: the soap client reads the WSDL from the gateway and calls through it', async () => {
    const before = calc11.received.length
    const client = await soap.createClientAsync(`${gateway.url}/calc11/v1?wsdl`)
    const [result] = await client.AddAsync({ a: 2, b: 3 })
    assert.equal(Number(result.result), 5)
    assert.equal(client.lastEndpoint, `${gateway.url}/calc11/v1`)
    assert.equal(calc11.received.length, before + 1, 'the call went through the gateway to the service')
  })

  test('SOAP 1.2: the served WSDL and its imported XSD point at the gateway, and the soap client uses them', async () => {
    const wsdl = await (await request(`${gateway.url}/calc12/v1?wsdl`)).body.text()
    assert.match(wsdl, new RegExp(`<soap12:address location="${gateway.url}/calc12/v1"/>`))
    assert.match(wsdl, new RegExp(`schemaLocation="${gateway.url}/calc12/v1\\?xsd=calculator-types.xsd"`))
    assert.doesNotMatch(wsdl, /127\.0\.0\.1:\d+\/calculator/, 'the backend address is not revealed')
    const xsd = await request(`${gateway.url}/calc12/v1?xsd=calculator-types.xsd`)
    assert.equal(xsd.statusCode, 200)
    assert.match(await xsd.body.text(), /<xsd:element name="AddResponse">/)
    assert.equal(await (await request(`${gateway.url}/calc12/v1?singleWsdl`)).body.text(), wsdl, "WCF's ?singleWsdl gets the same document")
    const missing = await request(`${gateway.url}/calc12/v1?xsd=..%2Fcalculator11.wsdl`)
    assert.equal(missing.statusCode, 404)
    await missing.body.dump()

    const client = await soap.createClientAsync(`${gateway.url}/calc12/v1?wsdl`, { forceSoap12Headers: true })
    const [result] = await client.AddAsync({ a: 20, b: 22 })
    assert.equal(Number(result.result), 42)
    assert.match(String(calc12.received.at(-1)!.headers['content-type']), /^application\/soap\+xml;.*action="http:\/\/example.com\/calculator\/Add"/)
  })

  test('behind a TLS-terminating proxy, publicUrl is the base of the served address', async () => {
    const response = await request(`${gateway.url}/public/v1?wsdl`)
    assert.match(await response.body.text(), /<soap:address location="https:\/\/api.example.com\/soap\/public\/v1"\/>/)
    const head = await request(`${gateway.url}/public/v1?wsdl`, { method: 'HEAD' })
    assert.equal(head.statusCode, 200)
    assert.equal(head.headers['content-type'], 'text/xml; charset=utf-8')
    assert.equal(await head.body.text(), '')
  })

  test('a WSDL split over two WSDL documents and an XSD is served whole, and the soap client calls through it', async () => {
    const client = await soap.createClientAsync(`${gateway.url}/split/v1?wsdl`)
    const [result] = await client.AddAsync({ a: 7, b: 8 })
    assert.equal(Number(result.result), 15)
    assert.equal(client.lastEndpoint, `${gateway.url}/split/v1`)
  })

  test('a WSDL that cannot be loaded makes the endpoint unavailable, answered as a SOAP Fault', async () => {
    const response = await post(`${gateway.url}/nowsdl/v1`, ADD11, 'text/xml')
    const text = await response.body.text()
    assert.equal(response.statusCode, 500)
    assert.match(text, /<faultcode>soap:Server<\/faultcode>.*ENDPOINT_UNAVAILABLE/)
    const endpoints = JSON.stringify(await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json())
    assert.match(endpoints, /"state":"wsdl-failed","problem":"cannot load http:[^"]*missing.wsdl: [^"]*answered 404"/)
  })

  test('with faultIsFailure, an error response too long to be a Fault still reaches the client whole', async () => {
    const response = await post(`${gateway.url}/longerror/v1`, ADD11, 'text/xml')
    assert.equal(response.statusCode, 500)
    assert.equal(await response.body.text(), LONG_ERROR)
  })

  test('the WSDL address follows the Host the client used', async () => {
    const response = await request(`${gateway.url}/calc11/v1?wsdl`, { headers: { host: 'api.example.com:8443' } })
    assert.match(await response.body.text(), /<soap:address location="http:\/\/api.example.com:8443\/calc11\/v1"\/>/)
  })

  test("a backend's SOAP 1.1 and 1.2 Faults reach the client unchanged, with the backend's status", async () => {
    const client11 = await soap.createClientAsync(`${gateway.url}/calc11/v1?wsdl`)
    const fault11 = await soapFault(client11.DivideAsync({ a: 1, b: 0 }))
    assert.equal(fault11.status, 500)
    assert.equal(fault11.fault.faultstring, 'division by zero')
    assert.equal(fault11.fault.faultcode, 'soap:Client')

    const client12 = await soap.createClientAsync(`${gateway.url}/calc12/v1?wsdl`, { forceSoap12Headers: true })
    const fault12 = await soapFault(client12.DivideAsync({ a: 1, b: 0 }))
    assert.equal(fault12.status, 500)
    assert.equal(fault12.fault.Reason.Text, 'division by zero')
  })

  test('faultIsFailure: a Fault counts as a soap-fault failure, and only where configured', async () => {
    const raw = `<s:Envelope xmlns:s="${SOAP12}"><s:Body><c:Divide xmlns:c="http://example.com/calculator"><c:a>1</c:a><c:b>0</c:b></c:Divide></s:Body></s:Envelope>`
    const direct = await post(`${gateway.url}/calc12/v1`, raw, 'application/soap+xml; charset=utf-8; action="http://example.com/calculator/Divide"')
    const text = await direct.body.text()
    assert.equal(direct.statusCode, 500)
    assert.match(text, /<soap:Text>division by zero<\/soap:Text>/)
    const backendBody = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
    assert.match(backendBody, /portico_upstream_errors_total\{[^}]*endpoint="calc12:v1:production"[^}]*kind="soap-fault"[^}]*\} [1-9]/)
    assert.doesNotMatch(backendBody, /portico_upstream_errors_total\{[^}]*endpoint="calc11:v1:production"[^}]*kind="soap-fault"/)
    const endpoints = JSON.stringify(await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json())
    assert.match(endpoints, /"type":"wsdl"/)
  })

  test('SOAP 1.1 over raw HTTP: the envelope and its SOAPAction reach the service byte for byte', async () => {
    const response = await post(`${gateway.url}/direct/v1`, ADD11, 'text/xml; charset=utf-8', { soapaction: '"http://example.com/calculator/Add"' })
    const text = await response.body.text()
    assert.equal(response.statusCode, 200)
    assert.match(text, /<result>5<\/result>/)
    const received = calc11.received.at(-1)!
    assert.ok(received.body.equals(Buffer.from(ADD11)), 'the backend received exactly the bytes sent')
    assert.equal(received.headers.soapaction, '"http://example.com/calculator/Add"')
    assert.equal(received.headers['content-type'], 'text/xml; charset=utf-8')
  })

  test('SOAP 1.2 over raw HTTP: the action parameter of the content type passes unchanged', async () => {
    const type = 'application/soap+xml; charset=utf-8; action="http://example.com/calculator/Add"'
    const response = await post(`${gateway.url}/calc12/v1`, ADD12, type)
    assert.equal(response.statusCode, 200)
    assert.match(await response.body.text(), /<result>42<\/result>/)
    assert.ok(calc12.received.at(-1)!.body.equals(Buffer.from(ADD12)))
    assert.equal(calc12.received.at(-1)!.headers['content-type'], type)
  })

  test('a 24 MB envelope streams through a SOAP endpoint unchanged', { timeout: 30_000 }, async () => {
    const filler = Buffer.alloc(1 << 20, 'x')
    const head = Buffer.from(`<s:Envelope xmlns:s="${SOAP11}"><s:Body><data>`)
    const tail = Buffer.from('</data></s:Body></s:Envelope>')
    const expected = createHash('sha256').update(head)
    for (let i = 0; i < 24; i++) expected.update(filler)
    expected.update(tail)
    // The client holds back the rest after its first MiB until the backend has seen bytes: a gateway that
    // buffered the envelope before sending it on would wait for ever.
    async function* envelope() {
      yield head
      yield filler
      const waitUntil = Date.now() + 10_000
      while (sinkBytes === 0 && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.ok(sinkBytes > 0, 'the backend saw the envelope while the client was still sending it')
      for (let i = 1; i < 24; i++) yield filler
      yield tail
    }
    const response = await request(`${gateway.url}/sink/v1`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: Readable.from(envelope()) })
    assert.equal(response.statusCode, 200)
    await response.body.text()
    assert.equal(sinkDigest, expected.digest('hex'))
    assert.equal(sinkBytes, head.length + 24 * filler.length + tail.length)
  })

  test('gateway faults: a backend that is down gives a SOAP Fault the soap client parses, in 1.1 and in 1.2', async () => {
    const client11 = await soap.createClientAsync(`${FIXTURES}calculator11.wsdl`, {}, `${gateway.url}/down/v1`)
    const fault11 = await soapFault(client11.AddAsync({ a: 1, b: 2 }))
    assert.equal(fault11.status, 500)
    assert.equal(fault11.fault.faultcode, 'soap:Server')
    assert.match(fault11.fault.faultstring, /The backend could not be reached \(endpoint down:v1:production: connect-refused\)/)
    assert.equal(fault11.fault.detail.error.code, 'BACKEND_UNREACHABLE')

    const client12 = await soap.createClientAsync(`${FIXTURES}calculator12.wsdl`, { forceSoap12Headers: true }, `${gateway.url}/down/v1`)
    const fault12 = await soapFault(client12.AddAsync({ a: 1, b: 2 }))
    assert.equal(fault12.status, 500)
    assert.equal(fault12.fault.Code.Value, 'soap:Receiver')
    assert.match(fault12.fault.Reason.Text.$value, /The backend could not be reached/)
  })

  test('gateway faults: a timeout and a missing environment are SOAP Faults with their codes', async () => {
    const timeout = await post(`${gateway.url}/slow/v1`, ADD12, 'application/soap+xml')
    const timeoutText = await timeout.body.text()
    assert.equal(timeout.statusCode, 500)
    assert.match(timeoutText, /<soap:Value>soap:Receiver<\/soap:Value>.*The backend did not respond in time.*<portico:code>BACKEND_TIMEOUT<\/portico:code>/)
    const sandbox = await post(`${gateway.url}/direct/v1`, ADD11, 'text/xml', { 'x-portico-environment': 'sandbox' })
    const sandboxText = await sandbox.body.text()
    assert.equal(sandbox.statusCode, 500)
    assert.match(sandboxText, /<faultcode>soap:Client<\/faultcode>.*<portico:code>ENVIRONMENT_NOT_CONFIGURED<\/portico:code>/)
  })

  test('gateway faults answer in the version of the request, with the error code and request id in the detail', async () => {
    const wrongResource = await post(`${gateway.url}/validated/v1/nothing-here`, ADD12, 'application/soap+xml')
    const text = await wrongResource.body.text()
    assert.equal(wrongResource.statusCode, 500)
    assert.match(String(wrongResource.headers['content-type']), /^application\/soap\+xml/)
    assert.match(text, new RegExp(`xmlns:soap="${SOAP12}"`))
    assert.match(text, /<soap:Value>soap:Sender<\/soap:Value>/)
    assert.match(text, /<portico:code>RESOURCE_NOT_FOUND<\/portico:code>/)
    assert.match(text, new RegExp(`<portico:requestId>${wrongResource.headers['x-request-id']}</portico:requestId>`))

    const wrongMethod = await request(`${gateway.url}/validated/v1`, { method: 'GET' })
    const methodText = await wrongMethod.body.text()
    assert.equal(wrongMethod.statusCode, 500)
    assert.match(methodText, new RegExp(`xmlns:soap="${SOAP11}"`))
    assert.match(methodText, /<faultcode>soap:Client<\/faultcode>.*METHOD_NOT_ALLOWED/)
  })

  test('validation refuses what is not a well-formed SOAP envelope, with a clear Fault, before the backend', async () => {
    const before = calc11.received.length
    const cases: Array<[string, string, RegExp]> = [
      ['<soap:Envelope xmlns:soap="' + SOAP11 + '"><soap:Body>', 'text/xml', /not well-formed XML/],
      ['{"a": 1}', 'text/xml', /not well-formed XML/],
      ['<order><id>1</id></order>', 'text/xml', /root element must be a SOAP 1.1 or 1.2 Envelope, got &lt;order&gt;/],
      [`<s:Envelope xmlns:s="${SOAP11}"><s:Header/></s:Envelope>`, 'text/xml', /the Envelope has no Body/],
      [ADD12, 'text/xml', /the envelope is SOAP 1.2 but the content type says SOAP 1.1/],
      ['', 'text/xml', /the body is empty/],
    ]
    for (const [body, type, message] of cases) {
      const response = await post(`${gateway.url}/validated/v1`, body, type)
      const text = await response.body.text()
      assert.equal(response.statusCode, 500, body)
      assert.match(text, /<faultcode>soap:Client<\/faultcode>/, body)
      assert.match(text, message, body)
      assert.match(text, /BAD_REQUEST/, body)
    }
    const ok = await post(`${gateway.url}/validated/v1`, ADD11, 'text/xml; charset=utf-8')
    assert.equal(ok.statusCode, 200)
    await ok.body.dump()
    assert.equal(calc11.received.length, before + 1, 'only the valid envelope reached the backend')
  })

  test('validation refuses XXE and entity expansion (billion laughs) without resolving anything', async () => {
    const before = calc11.received.length
    for (const attack of [XXE, LAUGHS]) {
      const started = performance.now()
      const response = await post(`${gateway.url}/validated/v1`, attack, 'text/xml')
      const text = await response.body.text()
      assert.equal(response.statusCode, 500)
      assert.match(text, /document type declaration \(&lt;!DOCTYPE \.\.\.&gt;\) is not allowed/)
      assert.doesNotMatch(text, /root:/, 'no file content leaks')
      assert.ok(performance.now() - started < 1000, 'refused at once, nothing expanded')
    }
    assert.equal(calc11.received.length, before, 'the backend never saw either attack')
  })

  test('validation refuses an envelope over maxEnvelopeBytes', async () => {
    const big = `<s:Envelope xmlns:s="${SOAP11}"><s:Body><x>${'y'.repeat(5000)}</x></s:Body></s:Envelope>`
    const response = await post(`${gateway.url}/validated/v1`, big, 'text/xml')
    const text = await response.body.text()
    assert.equal(response.statusCode, 500)
    assert.match(text, /PAYLOAD_TOO_LARGE/)
    assert.match(text, /larger than 4096 bytes/)
  })

  test('REST to SOAP: JSON in, a SOAP 1.1 request from the template, the response Body as JSON', async () => {
    const response = await request(`${gateway.url}/rest/v1/add`, { method: 'POST', body: JSON.stringify({ a: 19, b: 23 }), headers: { 'content-type': 'application/json' } })
    assert.equal(response.statusCode, 200)
    assert.equal(response.headers['content-type'], 'application/json')
    assert.deepEqual(await response.body.json(), { AddResponse: { result: 42 } })
    const sent = calc11.received.at(-1)!
    assert.equal(sent.headers.soapaction, '"http://example.com/calculator/Add"')
    assert.match(sent.body.toString(), /<c:a>19<\/c:a><c:b>23<\/c:b>/)
  })

  test('REST to SOAP: values are XML-escaped, markup in JSON keys and deep nesting are refused, bad JSON is a 400', async () => {
    const escaped = await request(`${gateway.url}/rest/v1/add`, { method: 'POST', body: JSON.stringify({ a: '1</c:a><c:evil/>', b: 2 }) })
    await escaped.body.dump()
    assert.match(calc11.received.at(-1)!.body.toString(), /<c:a>1&lt;\/c:a&gt;&lt;c:evil\/&gt;<\/c:a>/)
    const markup = await request(`${gateway.url}/rest/v1/add`, { method: 'POST', body: JSON.stringify({ a: { 'x><evil': 1 }, b: 2 }) })
    assert.equal(markup.statusCode, 400)
    assert.match(((await markup.body.json()) as { message: string }).message, /cannot be an XML element name/)
    // Nesting no operation takes would exhaust the stack building XML: a 400, never a failure of the backend.
    const before = calc11.received.length
    const deep = await request(`${gateway.url}/rest/v1/add`, { method: 'POST', body: `{"a":${'{"x":'.repeat(20_000)}1${'}'.repeat(20_000)},"b":2}` })
    assert.equal(deep.statusCode, 400)
    assert.match(((await deep.body.json()) as { message: string }).message, /nests deeper than 64 levels/)
    assert.equal(calc11.received.length, before)
    const bad = await request(`${gateway.url}/rest/v1/add`, { method: 'POST', body: '{"a": 1,' })
    assert.equal(bad.statusCode, 400)
    assert.equal(((await bad.body.json()) as { code: string }).code, 'BAD_REQUEST')
  })

  test('REST to SOAP: URI variables fill a SOAP 1.2 request to a WSDL endpoint; a Fault comes back as JSON', async () => {
    const ok = await request(`${gateway.url}/rest/v1/divide/84/2`)
    assert.equal(ok.statusCode, 200)
    assert.deepEqual(await ok.body.json(), { DivideResponse: { result: 42 } })
    const fault = await request(`${gateway.url}/rest/v1/divide/1/0`)
    assert.equal(fault.statusCode, 500)
    const body = (await fault.body.json()) as { fault: { Reason: { Text: string } } }
    assert.equal(body.fault.Reason.Text, 'division by zero')
  })
})

describe('WSDL configuration', () => {
  test('a port the WSDL file does not have is a config error naming the field and the ports there are', () => {
    const yaml = `
apis:
  - name: calc
    context: /calc
    version: v1
    endpoints:
      production: { type: wsdl, wsdl: "${FIXTURES}calculator11.wsdl", service: CalculatorService, port: NoSuchPort }
`
    assert.throws(
      () => parseConfig(yaml, 'soap.yaml'),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.issues.some(
          (issue) =>
            issue.path === 'apis[0].endpoints.production.wsdl' &&
            /no SOAP port "NoSuchPort" in service "CalculatorService"; its SOAP ports \(service\/port\): CalculatorService\/CalculatorSoap11Port/.test(issue.message),
        ),
    )
  })

  test('publicUrl must be an http(s) URL without a query', () => {
    const yaml = (url: string) => `
apis:
  - { name: calc, context: /calc, version: v1, endpoints: { production: { type: wsdl, wsdl: "${FIXTURES}calculator11.wsdl", service: CalculatorService, port: CalculatorSoap11Port, publicUrl: "${url}" } } }
`
    assert.throws(() => parseConfig(yaml('ftp://x'), 'soap.yaml'), /apis\[0\]\.endpoints\.production\.publicUrl: must be an http:\/\/ or https:\/\/ URL/)
    assert.throws(() => parseConfig(yaml('https://x/?a=1'), 'soap.yaml'), /publicUrl: must not have a query or fragment/)
  })

  test('a missing WSDL file is a config error', () => {
    const yaml = `
apis:
  - { name: calc, context: /calc, version: v1, endpoints: { production: { type: wsdl, wsdl: /nonexistent/x.wsdl, service: S, port: P } } }
`
    assert.throws(() => parseConfig(yaml, 'soap.yaml'), /apis\[0\]\.endpoints\.production\.wsdl: cannot read the file "\/nonexistent\/x\.wsdl" \(ENOENT\)/)
  })

  test('a WSDL URL with credentials in it is refused without echoing them: security.auth reads the WSDL', () => {
    const yaml = `
apis:
  - { name: calc, context: /calc, version: v1, endpoints: { production: { type: wsdl, wsdl: "https://reader:w5dl-pass@wsdl.example/calc?wsdl", service: S, port: P } } }
`
    assert.throws(
      () => parseConfig(yaml, 'soap.yaml'),
      (error: unknown) => error instanceof ConfigError && /wsdl: must not carry credentials; configure backend security instead/.test(error.message) && !error.message.includes('w5dl-pass'),
    )
  })
})
