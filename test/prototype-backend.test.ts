import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { closedPort } from './support/switchable-backend.ts'

/** An API with the given lifecycle whose production endpoint is a prototype backend. */
function api(name: string, lifecycle: string, endpoint: string, orders = true): string {
  return `
  - name: ${name}
    context: /${name.toLowerCase()}
    version: 1.0.0
    lifecycle: ${lifecycle}
    resources:
      - { uriTemplate: "/menu/{itemId}", methods: [GET] }
${orders ? '      - { uriTemplate: "/orders", methods: [POST] }\n' : ''}    endpoints:
      production: ${endpoint}
`
}

describe('a prototype endpoint with a backend url (WSO2\'s Prototype endpoint)', () => {
  let backend: TestBackend
  let slow: TestBackend
  let gateway: TestGateway
  let deadPort: number

  before(async () => {
    backend = await startBackend((req, res, body) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ method: req.method, url: req.url, authorization: req.headers.authorization ?? null, body: body.toString() }))
    })
    slow = await startBackend((_req, res) => {
      setTimeout(() => res.end('late'), 2_000)
    })
    deadPort = await closedPort()
    const secured = `{ type: prototype, url: "${backend.url}/prototype", security: { auth: { type: basic, username: designer, password: s3cret } } }`
    gateway = await startGateway(`
apis:${api('Created', 'CREATED', `{ type: prototype, name: created-prototype, url: "${backend.url}/kitchen/items/{uri.var.itemId}" }`, false)}${api('Prototyped', 'PROTOTYPED', secured)}${api('Published', 'PUBLISHED', `{ type: prototype, url: "${backend.url}" }`)}${api('Slow', 'PROTOTYPED', `{ type: prototype, url: "${slow.url}", timeouts: { response: 200ms } }`)}${api('Down', 'CREATED', `{ type: prototype, url: "http://127.0.0.1:${deadPort}", suspendOnFailure: { initialDuration: 30s } }`)}
`)
  })

  after(async () => {
    await gateway?.close()
    await backend?.close()
    await slow?.close()
  })

  async function call(path: string, init: { method?: string; body?: string } = {}) {
    const response = await request(`${gateway.url}${path}`, { method: (init.method ?? 'GET') as 'GET', body: init.body, headersTimeout: 5000, bodyTimeout: 5000 })
    const text = await response.body.text()
    return { status: response.statusCode, text, json: () => JSON.parse(text) as Record<string, unknown> }
  }

  test('a CREATED API reaches the backend through the URI template, as an http endpoint would', async () => {
    const response = await call('/created/1.0.0/menu/7?size=large')
    assert.equal(response.status, 200)
    assert.equal(response.json().url, '/kitchen/items/7?size=large')
  })

  test('a PROTOTYPED API reaches a base URL with its path appended, the body and backend credentials passed on', async () => {
    const response = await call('/prototyped/1.0.0/orders', { method: 'POST', body: '{"pizza":"Margherita"}' })
    assert.equal(response.status, 200)
    const seen = response.json()
    assert.equal(seen.url, '/prototype/orders')
    assert.equal(seen.body, '{"pizza":"Margherita"}')
    assert.equal(seen.authorization, `Basic ${Buffer.from('designer:s3cret').toString('base64')}`)
  })

  test('a PUBLISHED API is not served by its prototype backend, which receives nothing', async () => {
    const before = backend.requests.length
    const response = await call('/published/1.0.0/menu/1')
    assert.equal(response.status, 503)
    assert.equal(response.json().code, 'PROTOTYPE_NOT_SERVED')
    assert.equal(backend.requests.length, before)
  })

  test('the response timeout applies: a slow prototype backend is a 504, not a wait', async () => {
    const started = Date.now()
    const response = await call('/slow/1.0.0/menu/1')
    assert.equal(response.status, 504)
    assert.equal(response.json().code, 'BACKEND_TIMEOUT')
    assert.ok(Date.now() - started < 1_500, 'answered after the 200ms timeout, not after the backend')
  })

  test('suspension applies: an unreachable prototype backend is suspended after its first failure', async () => {
    const first = await call('/down/1.0.0/menu/1')
    assert.equal(first.status, 502)
    assert.equal(first.json().code, 'BACKEND_UNREACHABLE')
    const second = await call('/down/1.0.0/menu/1')
    assert.equal(second.status, 503)
    assert.equal(second.json().code, 'ENDPOINT_UNAVAILABLE')
  })

  test('/admin/endpoints shows it as a prototype with its url and counters', async () => {
    const response = await request(`${gateway.adminUrl}/admin/endpoints`)
    const text = await response.body.text()
    assert.match(text, /"id":"created-prototype","type":"prototype","state":"active","url":"http:\/\/127\.0\.0\.1:\d+\/kitchen\/items\/\{uri\.var\.itemId\}","sent":1/)
  })
})

describe('prototype backend config errors', () => {
  function problems(endpoint: string): string[] {
    try {
      parseConfig(`apis:${api('P', 'CREATED', endpoint)}`, 'p.yaml')
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      return error.issues.map((issue) => `${issue.path}: ${issue.message}`)
    }
    return []
  }

  test('a url and mocks together, a pool without a url, a bad url and an unknown template variable are named', () => {
    assert.deepEqual(problems('{ type: prototype, url: "http://127.0.0.1:9/", openapi: test/fixtures/openapi/petstore-3.0.yaml }'), [
      'apis[0].endpoints.production.url: a prototype endpoint is either a backend "url" or mocks ("resources", "openapi"), not both',
    ])
    assert.deepEqual(problems('{ type: prototype, openapi: test/fixtures/openapi/petstore-3.0.yaml, pool: { connections: 2 } }'), [
      'apis[0].endpoints.production.pool: is used only with a backend "url"',
    ])
    assert.deepEqual(problems('{ type: prototype, url: "ftp://example.com/" }'), ['apis[0].endpoints.production.url: must use http or https, got "ftp:"'])
    assert.deepEqual(problems('{ type: prototype, url: "http://127.0.0.1:9/{uri.var.nope}" }'), [
      'apis[0].endpoints.production.url: uses {nope}, which resource "/menu/{itemId}" (apis[0].resources[0]) does not define',
      'apis[0].endpoints.production.url: uses {nope}, which resource "/orders" (apis[0].resources[1]) does not define',
    ])
    assert.deepEqual(problems('{ type: prototype, openapi: test/fixtures/openapi/petstore-3.0.yaml, security: { auth: { type: basic, username: a, password: b } } }'), [
      'apis[0].endpoints.production.security: is not used by a prototype endpoint without a backend url: its mocks call no backend',
    ])
    assert.deepEqual(problems('{ type: prototype, url: "http://127.0.0.1:9/", security: { auth: { type: basic, username: a, password: b } } }'), [])
  })
})
