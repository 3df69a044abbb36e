import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import * as soap from 'soap'
import { request } from 'undici'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { startCalculator, type SoapService } from './support/soap-service.ts'
import { closedPort } from './support/switchable-backend.ts'

const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/'
const AXIS2 = 'http://ws.apache.org/namespaces/axis2'

/** A SOAP 1.1 Add request, in the SOAP session `session` when given (Axis2's ServiceGroupId header). */
function add(a: number, b: number, session?: string): string {
  const header = session ? `<soapenv:Header><axis2:ServiceGroupId xmlns:axis2="${AXIS2}">${session}</axis2:ServiceGroupId></soapenv:Header>` : ''
  return `<soapenv:Envelope xmlns:soapenv="${SOAP11}" xmlns:c="http://example.com/calculator">${header}<soapenv:Body><c:Add><c:a>${a}</c:a><c:b>${b}</c:b></c:Add></soapenv:Body></soapenv:Envelope>`
}

describe('SOAP endpoints in groups', () => {
  let first: SoapService
  let second: SoapService
  let gateway: TestGateway

  before(async () => {
    first = await startCalculator('calculator11.wsdl')
    second = await startCalculator('calculator11.wsdl')
    const down = `http://127.0.0.1:${await closedPort()}/calculator`
    gateway = await startGateway(`
apis:
  - name: failover
    context: /failover
    version: v1
    soap: {}
    endpoints:
      production: { type: failover, endpoints: [{ type: soap, name: down, url: "${down}" }, { type: soap, name: up, url: "${first.url}" }] }
  - name: alldown
    context: /alldown
    version: v1
    soap: {}
    endpoints:
      production: { type: failover, endpoints: [{ type: soap, url: "${down}" }, { type: soap, url: "${down}/2" }] }
  - name: sessions
    context: /sessions
    version: v1
    soap: {}
    endpoints:
      production:
        type: loadbalance
        session: { type: soap }
        endpoints: [{ type: soap, name: one, url: "${first.url}" }, { type: soap, name: two, url: "${second.url}" }]
`)
  })
  after(async () => {
    await gateway.close()
    await first.close()
    await second.close()
  })

  const post = (path: string, envelope: string) =>
    request(`${gateway.url}${path}`, { method: 'POST', body: envelope, headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '"http://example.com/calculator/Add"' } })

  test('a SOAP request fails over to the next SOAP leaf unchanged, and the soap client sees no error', async () => {
    const before = first.received.length
    const response = await post('/failover/v1', add(2, 3))
    assert.equal(response.statusCode, 200)
    assert.match(await response.body.text(), /<result>5<\/result>/)
    assert.equal(first.received.at(-1)!.body.toString(), add(2, 3), 'the envelope arrived byte for byte')
    assert.equal(first.received.length, before + 1)
  })

  test('when every SOAP leaf fails the client gets a SOAP Fault listing the failures', async () => {
    const response = await post('/alldown/v1', add(1, 1))
    assert.equal(response.statusCode, 500)
    const text = await response.body.text()
    assert.match(text, /<faultcode>soap:Server<\/faultcode>/)
    assert.match(text, /connect-refused.*connect-refused/s)
  })

  test('a load-balance group keeps a SOAP session (Axis2 ServiceGroupId header) on one endpoint', async () => {
    const counts = () => [first.received.length, second.received.length]
    const start = counts()
    for (let i = 0; i < 6; i++) assert.equal((await post('/sessions/v1', add(i, 1, 'urn:uuid:session-a'))).statusCode, 200)
    const afterA = counts()
    const servedA = [afterA[0]! - start[0]!, afterA[1]! - start[1]!]
    assert.ok(servedA.includes(6) && servedA.includes(0), `one endpoint served the whole session: ${servedA}`)

    for (let i = 0; i < 6; i++) assert.equal((await post('/sessions/v1', add(i, 1))).statusCode, 200)
    const afterPlain = counts()
    assert.deepEqual([afterPlain[0]! - afterA[0]!, afterPlain[1]! - afterA[1]!], [3, 3], 'requests without a session are spread round robin')
  })

  test('the soap client works through a load-balanced SOAP API', async () => {
    const client = await soap.createClientAsync(`${first.url}?wsdl`, { endpoint: `${gateway.url}/sessions/v1` })
    const [result] = await client.AddAsync({ a: 20, b: 22 })
    assert.equal(Number(result.result), 42)
  })
})
