import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as soap from 'soap'
import { request } from 'undici'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { FIXTURES } from './support/soap-service.ts'

const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/'
const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope'
const CALC = 'http://example.com/calculator'

/** A multipart/related message as MTOM writes one: the envelope as the root part, then an attachment. */
function mtom(envelope: string, options: { boundary?: string; startInfo?: string; rootType?: string; start?: string | null } = {}) {
  const boundary = options.boundary ?? 'uuid:7d3b-mime-boundary'
  const startInfo = options.startInfo ?? 'text/xml'
  const start = options.start === undefined ? '<root.message@portico.test>' : options.start
  const contentType =
    `multipart/related; type="application/xop+xml"; boundary="${boundary}"; start-info="${startInfo}"` + (start === null ? '' : `; start="${start}"`)
  const body =
    // A preamble and a leading CRLF, as Apache CXF writes them.
    `\r\n--${boundary}\r\nContent-Type: ${options.rootType ?? `application/xop+xml; charset=UTF-8; type="${startInfo}"`}\r\n` +
    `Content-Transfer-Encoding: binary\r\nContent-ID: <root.message@portico.test>\r\n\r\n${envelope}\r\n` +
    `--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-ID: <photo@portico.test>\r\n\r\n\u0000\u0001binary\r\n--${boundary}--\r\n`
  return { contentType, body: Buffer.from(body, 'latin1') }
}

const add11 = (a: number, b: number) => `<s:Envelope xmlns:s="${SOAP11}"><s:Body><c:Add xmlns:c="${CALC}"><c:a>${a}</c:a><c:b>${b}</c:b></c:Add></s:Body></s:Envelope>`
const add12 = (a: number, b: number) => `<s:Envelope xmlns:s="${SOAP12}"><s:Body><c:Add xmlns:c="${CALC}"><c:a>${a}</c:a><c:b>${b}</c:b></c:Add></s:Body></s:Envelope>`

/** An MTOM service: it reads a and b from the root part and answers MTOM, as JAX-WS and WCF do to an MTOM client. */
function startMtomService(): Promise<TestBackend> {
  return startBackend((req, res, body) => {
    const text = body.toString('latin1')
    const [a, b] = ['a', 'b'].map((name) => Number(new RegExp(`<(?:\\w+:)?${name}>(-?\\d+)<`).exec(text)?.[1]))
    const answer = mtom(`<s:Envelope xmlns:s="${SOAP11}"><s:Body><AddResponse xmlns="${CALC}"><result>${a! + b!}</result></AddResponse></s:Body></s:Envelope>`, { boundary: 'answer-boundary' })
    res.writeHead(200, { 'content-type': answer.contentType })
    res.end(answer.body)
  })
}

describe('MTOM and SOAP with Attachments (multipart/related)', () => {
  let service: TestBackend
  let other: TestBackend
  let faulting: TestBackend
  let gateway: TestGateway

  before(async () => {
    service = await startMtomService()
    other = await startMtomService()
    faulting = await startBackend((req, res) => {
      const fault = mtom(`<s:Envelope xmlns:s="${SOAP11}"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>out of order</faultstring></s:Fault></s:Body></s:Envelope>`, { boundary: 'fault-boundary' })
      res.writeHead(500, { 'content-type': fault.contentType })
      res.end(fault.body)
    })
    gateway = await startGateway(`
apis:
  - name: mtom
    context: /mtom
    version: v1
    soap: { validate: true }
    endpoints:
      production: { type: soap, url: "${service.url}/calculator" }
  - name: mtom-retry
    context: /mtom-retry
    version: v1
    soap: { validate: true }
    endpoints:
      production:
        type: failover
        retryNonIdempotent: true
        endpoints:
          - { type: soap, url: "${faulting.url}/calculator", faultIsFailure: true }
          - { type: soap, url: "${service.url}/calculator" }
  - name: mtom-sessions
    context: /mtom-sessions
    version: v1
    soap: { validate: true }
    endpoints:
      production:
        type: loadbalance
        session: { type: soap }
        endpoints: [{ type: soap, url: "${service.url}/calculator" }, { type: soap, url: "${other.url}/calculator" }]
  - name: mtom-once
    context: /mtom-once
    version: v1
    soap: { validate: true }
    endpoints:
      production:
        type: failover
        endpoints:
          - { type: soap, url: "${faulting.url}/calculator", faultIsFailure: true }
          - { type: soap, url: "${service.url}/calculator" }
`)
  })

  after(async () => {
    await gateway?.close()
    await service?.close()
    await other?.close()
    await faulting?.close()
  })

  test('the soap package as an MTOM client (forceMTOM) passes validation, its bytes reach the service unchanged, and it reads the MTOM answer', async () => {
    const client = await soap.createClientAsync(`${FIXTURES}calculator11.wsdl`, {}, `${gateway.url}/mtom/v1`)
    const [result] = await client.AddAsync({ a: 2, b: 3 }, { forceMTOM: true })
    assert.equal(Number(result.result), 5)
    const seen = service.requests.at(-1)!
    assert.match(seen.headers['content-type']!, /^multipart\/related; type="application\/xop\+xml"; start="<[^>]+>"; start-info="text\/xml"; boundary=/)
    assert.match(seen.body.toString('utf8'), /^--[^\r]+\r\nContent-Type: application\/xop\+xml; charset=UTF-8; type="text\/xml"\r\n/)
  })

  test('a message as CXF writes it (preamble CRLF, start naming the root part, an attachment after it) passes in SOAP 1.1 and 1.2', async () => {
    for (const [envelope, startInfo] of [[add11(20, 22), 'text/xml'], [add12(40, 2), 'application/soap+xml']] as const) {
      const message = mtom(envelope, { startInfo })
      const response = await request(`${gateway.url}/mtom/v1`, { method: 'POST', body: message.body, headers: { 'content-type': message.contentType } })
      assert.equal(response.statusCode, 200, startInfo)
      assert.match(await response.body.text(), /<result>42<\/result>/)
      assert.deepEqual(service.requests.at(-1)!.body, message.body, 'the message is passed on byte for byte')
    }
  })

  test('what is not a SOAP message in a multipart body is refused with a Fault in the version start-info names', async () => {
    const cases: Array<[string, { contentType: string; body: Buffer }, RegExp]> = [
      ['root part not an envelope', mtom('<notSoap/>'), /not a valid SOAP envelope: the root element must be a SOAP 1\.1 or 1\.2 Envelope/],
      ['SOAP 1.1 envelope where start-info says 1.2', mtom(add11(1, 2), { startInfo: 'application/soap+xml' }), /the envelope is SOAP 1\.1 but the content type says SOAP 1\.2/],
      ['start naming no part', mtom(add11(1, 2), { start: '<elsewhere@portico.test>' }), /no part has the Content-ID &lt;elsewhere@portico\.test&gt;/],
      ['no boundary', { contentType: 'multipart/related; type="application/xop+xml"; start-info="text/xml"', body: mtom(add11(1, 2)).body }, /has no boundary/],
      ['cut short', { ...mtom(add11(1, 2)), body: mtom(add11(1, 2)).body.subarray(0, 150) }, /cut short or malformed/],
    ]
    for (const [name, message, expected] of cases) {
      const before = service.requests.length
      const response = await request(`${gateway.url}/mtom/v1`, { method: 'POST', body: message.body, headers: { 'content-type': message.contentType } })
      const soap12 = /start-info="application\/soap\+xml"/.test(message.contentType)
      // Every Fault is a 500, as the SOAP HTTP bindings have it; the Fault's code says the sender is at fault.
      assert.equal(response.statusCode, 500, name)
      const fault = await response.body.text()
      assert.match(fault, expected, name)
      assert.match(response.headers['content-type'] as string, soap12 ? /^application\/soap\+xml/ : /^text\/xml/, `${name}: the Fault speaks the client's version`)
      assert.ok(fault.includes(soap12 ? SOAP12 : SOAP11), name)
      assert.equal(service.requests.length, before, `${name}: nothing reached the service`)
    }
  })

  test('with faultIsFailure, an MTOM Fault is a failure: a group that may send the POST again answers from its next leaf', async () => {
    const message = mtom(add11(1, 2))
    const before = faulting.requests.length
    const response = await request(`${gateway.url}/mtom-retry/v1`, { method: 'POST', body: message.body, headers: { 'content-type': message.contentType } })
    assert.equal(response.statusCode, 200)
    assert.match(await response.body.text(), /<result>3<\/result>/)
    assert.equal(faulting.requests.length, before + 1, 'the faulting leaf was tried first')
  })

  test("a load-balance group's SOAP session reads the Axis2 ServiceGroupId header from an MTOM message's root part", async () => {
    const inSession = (a: number) =>
      mtom(`<s:Envelope xmlns:s="${SOAP11}"><s:Header><axis2:ServiceGroupId xmlns:axis2="http://ws.apache.org/namespaces/axis2">urn:uuid:mtom-session</axis2:ServiceGroupId></s:Header><s:Body><c:Add xmlns:c="${CALC}"><c:a>${a}</c:a><c:b>1</c:b></c:Add></s:Body></s:Envelope>`)
    const counts = () => [service.requests.length, other.requests.length]
    const start = counts()
    for (let i = 0; i < 6; i++) {
      const message = inSession(i)
      const response = await request(`${gateway.url}/mtom-sessions/v1`, { method: 'POST', body: message.body, headers: { 'content-type': message.contentType } })
      assert.equal(response.statusCode, 200)
      await response.body.dump()
    }
    const served = counts().map((count, index) => count - start[index]!)
    assert.ok(served.includes(6) && served.includes(0), `one endpoint served the whole session: ${served}`)
  })

  test('a group that must not send the POST again gives the client the backend\'s Fault as sent, not a gateway error', async () => {
    const message = mtom(add11(1, 2))
    const response = await request(`${gateway.url}/mtom-once/v1`, { method: 'POST', body: message.body, headers: { 'content-type': message.contentType } })
    assert.equal(response.statusCode, 500)
    assert.match(response.headers['content-type'] as string, /^multipart\/related; .*boundary="fault-boundary"/)
    const text = await response.body.text()
    assert.match(text, /<faultstring>out of order<\/faultstring>/)
    assert.doesNotMatch(text, /portico:error/)
  })
})
