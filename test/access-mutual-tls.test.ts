import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pino from 'pino'
import { ConsumerAuthentication } from '../src/access/consumer-auth.ts'
import { ApiSecurity } from '../src/access/schema.ts'
import type { Exchange } from '../src/core/endpoint.ts'

// What a TLS listener leaves on the exchange for a verified client certificate is all this filter reads, so
// these tests hand it exchanges as such a listener would (test/listener-tls.test.ts covers the listener side).
const context = { logger: pino({ level: 'silent' }) }
const security = ApiSecurity.parse({
  mutualTls: { subjects: [{ subject: 'CN=orders-batch, O=Example', application: 'batch', keyType: 'SANDBOX' }] },
  consumerHeader: { name: 'x-consumer' },
})

function exchange(subject: string | undefined): Exchange {
  return Object.assign(
    {
      requestId: 'req-00000001',
      method: 'GET',
      path: '/x',
      basePath: '/a/v1',
      query: '',
      uriVariables: {},
      headers: ['x-consumer', 'forged'],
      body: null,
      route: { apiName: 'a', apiVersion: 'v1', uriTemplate: '/x' },
      environment: 'production' as const,
      properties: new Map(),
      target: undefined,
      client: { address: '192.0.2.1', protocol: 'https' as const, host: 'gw' },
    },
    subject === undefined
      ? {}
      : { clientCertificate: { subject, commonName: /CN=([^,]*)/.exec(subject)?.[1], issuer: 'CN=Example CA', serialNumber: '01', fingerprint256: 'AB:CD' } },
  )
}

describe('mutual TLS consumers: the verified certificate subject against the allow-list', () => {
  const filter = new ConsumerAuthentication(security, {})

  test('an allowed subject (as the TLS listener writes it) becomes the consumer; its key type chooses sandbox', async () => {
    const allowed = exchange('CN=orders-batch, O=Example')
    assert.equal(await filter.request(allowed, context), undefined)
    assert.deepEqual({ ...allowed.consumer, claims: undefined }, { subject: 'CN=orders-batch, O=Example', application: 'batch', keyType: 'SANDBOX', scopes: [], scheme: 'mutualTls', claims: undefined })
    assert.equal(allowed.environment, 'sandbox')
    const consumer = JSON.parse(Buffer.from(allowed.headers[allowed.headers.indexOf('x-consumer') + 1]!, 'base64url').toString()) as Record<string, unknown>
    assert.equal(consumer.application, 'batch', 'the forged x-consumer was replaced')
    assert.equal(allowed.headers.filter((name) => name === 'x-consumer').length, 1)
  })

  test('a subject string with other spacing names the same subject', async () => {
    const allowed = exchange('CN=orders-batch,O=Example')
    assert.equal(await filter.request(allowed, context), undefined)
    assert.equal(allowed.consumer?.application, 'batch')
  })

  test('a subject not on the list is INVALID_CREDENTIALS; no certificate is MISSING_CREDENTIALS', async () => {
    const stranger = await filter.request(exchange('CN=someone-else'), context)
    assert.ok(stranger && 'code' in stranger)
    assert.equal(stranger.code, 'INVALID_CREDENTIALS')
    const none = await filter.request(exchange(undefined), context)
    assert.ok(none && 'code' in none)
    assert.equal(none.code, 'MISSING_CREDENTIALS')
    assert.deepEqual(none.headers, ['www-authenticate', 'ClientCertificate realm="portico"'])
  })
})
