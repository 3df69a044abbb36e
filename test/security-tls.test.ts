import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { createTestPki, type TestPki } from './support/certificates.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

describe('mutual TLS and custom CAs towards an HTTPS backend', () => {
  let pki: TestPki
  let backend: Server
  let gateway: TestGateway
  const warnings: Error[] = []
  const onWarning = (warning: Error) => warnings.push(warning)

  before(async () => {
    pki = createTestPki('backend.internal', 'portico-gateway')
    // The backend requires a client certificate signed by the test CA.
    backend = createServer({ key: pki.read('serverKey'), cert: pki.read('serverCert'), ca: pki.read('ca'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate()
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ client: peer.subject?.CN ?? null, servername: (req.socket as TLSSocket & { servername?: string }).servername ?? null }))
    })
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve))
    const url = `https://127.0.0.1:${(backend.address() as AddressInfo).port}`
    process.on('warning', onWarning)
    const { ca, clientCert, clientKey } = pki.files
    const api = (name: string, tls: string, extra = '') => `
  - name: ${name}
    context: /${name.toLowerCase()}
    version: v1
    endpoints: { production: { type: http, url: "${url}", timeouts: { connect: 3s, response: 3s }, security: { tls: ${tls} }${extra} } }`
    gateway = await startGateway(`
apis:${api('Mutual', `{ cert: ${clientCert}, key: ${clientKey}, ca: ${ca}, servername: backend.internal }`)}${api(
      'Nocert',
      `{ ca: ${ca}, servername: backend.internal }`,
    )}${api(
      'Checked',
      `{ cert: ${clientCert}, key: ${clientKey}, ca: ${ca}, servername: backend.internal }`,
      ', healthCheck: { path: /health, interval: 100ms, timeout: 2s, healthyThreshold: 1, unhealthyThreshold: 1 }',
    )}${api('Pemtext', `{ cert: "\${file:${clientCert}}", key: "\${file:${clientKey}}", ca: "\${file:${ca}}", servername: backend.internal }`)}${api('Wrongname', `{ cert: ${clientCert}, key: ${clientKey}, ca: ${ca} }`)}${api('Systemca', `{ cert: ${clientCert}, key: ${clientKey}, servername: backend.internal }`)}${api(
      'Insecure',
      `{ cert: ${clientCert}, key: ${clientKey}, insecureSkipVerify: true }`,
    )}
`)
  })

  after(async () => {
    process.off('warning', onWarning)
    await gateway?.close()
    await new Promise<void>((resolve) => {
      if (!backend?.listening) return resolve()
      backend.close(() => resolve())
      backend.closeAllConnections()
    })
    pki?.remove()
  })

  async function call(path: string) {
    const response = await request(`${gateway.url}${path}`, { headersTimeout: 10_000, bodyTimeout: 10_000 })
    const text = await response.body.text()
    return { status: response.statusCode, text, json: () => JSON.parse(text) }
  }

  test('health checks connect with the leaf\'s client certificate, CA and server name, so the leaf stays healthy', async () => {
    await new Promise((resolve) => setTimeout(resolve, 500))
    const view = (await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json()) as { endpoints: Array<Record<string, any>> }
    const checked = view.endpoints.find((endpoint) => endpoint.id === 'Checked:v1:production')!
    assert.deepEqual({ state: checked.state, healthy: checked.healthCheck.healthy, last: checked.healthCheck.last }, { state: 'active', healthy: true, last: 'status 200' })
  })

  test('with client certificate, CA bundle and server name the backend sees the gateway certificate', async () => {
    const response = await call('/mutual/v1/x')
    assert.equal(response.status, 200, response.text)
    assert.deepEqual(response.json(), { client: 'portico-gateway', servername: 'backend.internal' })
  })

  test('certificate, key and CA may be PEM text, here from ${file:} references', async () => {
    const response = await call('/pemtext/v1/x')
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().client, 'portico-gateway')
  })

  test('without a client certificate the backend refuses the handshake: 502, not a silent success', async () => {
    const response = await call('/nocert/v1/x')
    assert.equal(response.status, 502, response.text)
    assert.match(response.json().code, /^BACKEND_(UNREACHABLE|CONNECTION_CLOSED)$/)
  })

  test('a certificate for another name than the URL host fails verification unless servername says so', async () => {
    const response = await call('/wrongname/v1/x')
    assert.equal(response.status, 502)
    assert.equal(response.json().code, 'BACKEND_UNREACHABLE')
    assert.match(response.json().message, /: tls\)/)
  })

  test('a backend certificate from a CA outside the system store fails without the ca setting', async () => {
    const response = await call('/systemca/v1/x')
    assert.equal(response.status, 502)
    assert.match(response.json().message, /: tls\)/)
  })

  test('insecureSkipVerify accepts any certificate and warns once for its endpoint', async () => {
    const response = await call('/insecure/v1/x')
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().client, 'portico-gateway')
    const insecure = warnings.filter((warning) => (warning as Error & { code?: string }).code === 'PORTICO_INSECURE_TLS')
    assert.equal(insecure.length, 1)
    assert.match(insecure[0]!.message, /Insecure:v1:production: security\.tls\.insecureSkipVerify is on/)
  })
})
