import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import * as soap from 'soap'
import { request } from 'undici'
import { apacheAvailable, startApache, type Apache } from './support/apache.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { createCertificateAuthority, type CertificateAuthority } from './support/certificates.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { FIXTURES, startCalculator, type SoapService } from './support/soap-service.ts'

const USERS = { basic: { username: 'wsdl-reader', password: 'b4sic-wsdl' }, digest: { username: 'wsdl-digest', password: 'd1gest-wsdl' } }

describe('a WSDL read with the endpoint\'s own backend security', { skip: !apacheAvailable() && 'Apache httpd is not installed' }, () => {
  let calc: SoapService
  let apache: Apache
  let elsewhere: TestBackend
  let ca: CertificateAuthority
  let tlsWsdl: HttpsServer
  let gateway: TestGateway

  before(async () => {
    calc = await startCalculator('calculator11.wsdl')
    const fixture = (name: string) => readFile(`${FIXTURES}${name}`, 'utf8')
    const service = (await fixture('split/service.wsdl')).replace('http://backend.invalid/calculator11', calc.url)
    const [abstract, types] = [await fixture('split/abstract.wsdl'), await fixture('calculator-types.xsd')]
    // Another origin holding the abstract half, which the WSDL behind Basic imports by absolute URL.
    elsewhere = await startBackend((req, res) => {
      const text = req.url!.endsWith('abstract.wsdl') ? abstract : req.url!.endsWith('.xsd') ? types : undefined
      res.writeHead(text ? 200 : 404, { 'content-type': 'text/xml' })
      res.end(text ?? '')
    })
    apache = await startApache(USERS, {
      // The split WSDL behind Digest: the service half, its abstract half and the XSD all ask for credentials.
      'digest/split/service.wsdl': service,
      'digest/split/abstract.wsdl': abstract,
      'digest/calculator-types.xsd': types,
      'basic/foreign/service.wsdl': service.replace('location="abstract.wsdl"', `location="${elsewhere.url}/split/abstract.wsdl"`),
    })
    // The same WSDL over https, with a certificate of a private CA.
    ca = createCertificateAuthority()
    const issued = ca.issueServer('wsdl-host', ['localhost'])
    tlsWsdl = createHttpsServer({ cert: issued.chain, key: issued.key }, (req, res) => {
      const text = req.url === '/calculator.wsdl' ? service.replace('location="abstract.wsdl"', `location="${elsewhere.url}/split/abstract.wsdl"`) : undefined
      res.writeHead(text ? 200 : 404, { 'content-type': 'text/xml' })
      res.end(text ?? '')
    })
    await new Promise<void>((resolve) => tlsWsdl.listen(0, '127.0.0.1', resolve))
    const tlsPort = (tlsWsdl.address() as AddressInfo).port
    const wsdlEndpoint = (wsdl: string, security: string) => `{ type: wsdl, wsdl: "${wsdl}", service: CalculatorService, port: CalculatorSoap11Port${security} }`
    gateway = await startGateway(`
apis:
  - name: digest
    context: /digest
    version: v1
    endpoints:
      production: ${wsdlEndpoint(`${apache.url}/digest/split/service.wsdl`, `, security: { auth: { type: digest, username: ${USERS.digest.username}, password: ${USERS.digest.password} } }`)}
  - name: foreign
    context: /foreign
    version: v1
    endpoints:
      production: ${wsdlEndpoint(`${apache.url}/basic/foreign/service.wsdl`, `, security: { auth: { type: basic, username: ${USERS.basic.username}, password: ${USERS.basic.password} } }`)}
  - name: private-ca
    context: /private-ca
    version: v1
    endpoints:
      production: ${wsdlEndpoint(`https://localhost:${tlsPort}/calculator.wsdl`, `, security: { tls: { ca: "${ca.rootFile}" } }`)}
  - name: no-credentials
    context: /no-credentials
    version: v1
    endpoints:
      production: ${wsdlEndpoint(`${apache.url}/digest/split/service.wsdl`, '')}
`)
  })

  after(async () => {
    await gateway?.close()
    await new Promise<void>((resolve) => (tlsWsdl ? tlsWsdl.close(() => resolve()) : resolve()))
    ca?.remove()
    await apache?.close()
    await elsewhere?.close()
    await calc?.close()
  })

  test('a split WSDL behind Digest: every document answers the challenge, and the service is called through it', async () => {
    const client = await soap.createClientAsync(`${gateway.url}/digest/v1?wsdl`)
    const [result] = await client.AddAsync({ a: 2, b: 3 })
    assert.equal(Number(result.result), 5)
    const log = apache.accessLog()
    assert.ok(log.includes('GET /digest/split/service.wsdl 401'), `the first document was challenged\n${log.join('\n')}`)
    // The imports reuse the nonce of that challenge, as the endpoint's requests do.
    for (const path of ['/digest/split/service.wsdl', '/digest/split/abstract.wsdl', '/digest/calculator-types.xsd']) {
      assert.ok(log.includes(`GET ${path} 200`), `${path} answered\n${log.join('\n')}`)
    }
  })

  test("the credentials go to the WSDL's own origin only, never to another one an import names", async () => {
    const client = await soap.createClientAsync(`${gateway.url}/foreign/v1?wsdl`)
    const [result] = await client.AddAsync({ a: 40, b: 2 })
    assert.equal(Number(result.result), 42)
    assert.ok(apache.accessLog().includes('GET /basic/foreign/service.wsdl 200'))
    const imported = elsewhere.requests.filter((seen) => seen.url.endsWith('abstract.wsdl'))
    assert.ok(imported.length > 0, 'the import was read')
    for (const seen of elsewhere.requests) assert.equal(seen.headers.authorization, undefined, `${seen.url} got no credentials`)
  })

  test("a WSDL over https with a private CA's certificate is read with the endpoint's tls.ca", async () => {
    const client = await soap.createClientAsync(`${gateway.url}/private-ca/v1?wsdl`)
    const [result] = await client.AddAsync({ a: 1, b: 1 })
    assert.equal(Number(result.result), 2)
  })

  test('without credentials the WSDL cannot be read: the client gets a 503, the admin port says why', async () => {
    const response = await request(`${gateway.url}/no-credentials/v1?wsdl`)
    assert.equal(response.statusCode, 503)
    await response.body.dump()
    const endpoints = JSON.stringify(await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json())
    assert.match(endpoints, /"id":"no-credentials:v1:production"[^}]*"state":"wsdl-failed","problem":"[^"]*service\.wsdl answered 401"/)
  })
})
