import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { rawExchange, statusOf } from './support/raw.ts'

describe('routing to REST endpoints', () => {
  let backend: TestBackend
  let gateway: TestGateway

  before(async () => {
    backend = await startEchoBackend('orders')
    gateway = await startGateway(`
apis:
  - name: pizzashack
    context: /pizzashack
    version: 1.0.0
    defaultVersion: true
    resources:
      - uriTemplate: /menu
        methods: [GET]
      - uriTemplate: /menu/{itemId}
        methods: [GET, PUT]
      - uriTemplate: /orders/*
    endpoints:
      production: { type: http, url: "${backend.url}/api" }
  - name: items
    context: /{version}/items
    version: v2
    resources:
      - uriTemplate: /{itemId}/reviews/{reviewId}
        methods: [GET]
    endpoints:
      production: { type: http, url: "${backend.url}/menu/{uri.var.itemId}/r/{reviewId}?src=gw" }
`)
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  async function get(path: string, init: Parameters<typeof request>[1] = {}) {
    const response = await request(`${gateway.url}${path}`, init)
    const text = await response.body.text()
    return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) }
  }

  test('a base URL endpoint receives the path below the API, with the query string unchanged', async () => {
    const response = await get('/pizzashack/1.0.0/menu?size=large&size=small&q=a%20b')
    assert.equal(response.status, 200)
    assert.equal(response.json().url, '/api/menu?size=large&size=small&q=a%20b')
  })

  test('the default version answers without the version in the path', async () => {
    const response = await get('/pizzashack/menu/7')
    assert.equal(response.status, 200)
    assert.equal(response.json().url, '/api/menu/7')
  })

  test('a URI template endpoint takes its variables from the resource, in both spellings, re-encoded', async () => {
    const response = await get('/v2/items/piz%20za/reviews/42?x=1')
    assert.equal(response.status, 200)
    assert.equal(response.json().url, '/menu/piz%20za/r/42?src=gw&x=1')
  })

  test('a trailing /* resource matches the path itself and anything below it', async () => {
    assert.equal((await get('/pizzashack/1.0.0/orders')).json().url, '/api/orders')
    assert.equal((await get('/pizzashack/1.0.0/orders/1/items', { method: 'DELETE' })).json().url, '/api/orders/1/items')
  })

  test('an unknown path is 404 NO_ROUTE and a path without resource is 404 RESOURCE_NOT_FOUND', async () => {
    const none = await get('/nothing/here')
    assert.equal(none.status, 404)
    assert.equal(none.json().code, 'NO_ROUTE')
    assert.match(none.json().requestId, /^[0-9a-f-]{36}$/)
    assert.equal(none.headers['x-request-id'], none.json().requestId)
    const noResource = await get('/pizzashack/1.0.0/drinks')
    assert.equal(noResource.status, 404)
    assert.equal(noResource.json().code, 'RESOURCE_NOT_FOUND')
  })

  test('a method the resource does not accept is 405 with Allow listing the ones it does', async () => {
    const response = await get('/pizzashack/1.0.0/menu/3', { method: 'POST', body: 'x' })
    assert.equal(response.status, 405)
    assert.equal(response.json().code, 'METHOD_NOT_ALLOWED')
    assert.equal(response.headers.allow, 'GET, PUT, HEAD')
  })

  test('GET implies HEAD', async () => {
    const response = await get('/pizzashack/1.0.0/menu', { method: 'HEAD' })
    assert.equal(response.status, 200)
    assert.equal(response.text, '')
  })

  test('bad percent-encoding in a URI variable and dot segments are 400, never forwarded', async () => {
    const before = backend.requests.length
    const bad = await get('/pizzashack/1.0.0/menu/%E0%A4%A')
    assert.equal(bad.status, 400)
    assert.equal(bad.json().code, 'BAD_REQUEST')
    for (const path of ['/pizzashack/1.0.0/../admin', '/pizzashack/1.0.0/%2e%2E/x', '/pizzashack/./1.0.0/menu', '/pizzashack/1.0.0/menu/..%2fadmin', '/pizzashack/1.0.0/menu/a%2F..']) {
      const response = await rawExchange(gateway.url, `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
      assert.equal(statusOf(response), 400, path)
      assert.match(response, /"code":"BAD_REQUEST"/)
    }
    assert.equal(backend.requests.length, before)
  })

  test('the client may pass its own request id, which reaches the backend and the response', async () => {
    const response = await get('/pizzashack/1.0.0/menu', { headers: { 'x-request-id': 'trace-0123456789' } })
    assert.equal(response.headers['x-request-id'], 'trace-0123456789')
    assert.equal(response.json().headers['x-request-id'], 'trace-0123456789')
  })
})
