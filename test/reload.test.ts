import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { Agent, request } from 'undici'
import { parseConfig } from '../src/config/load.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

describe('reload', () => {
  let backend: TestBackend
  let gateway: TestGateway
  /** The backend-side port of the connection each request came in on: the same port means the same pooled connection. */
  const ports: number[] = []

  const apis = (ordersUrl: string) => `
apis:
  - name: menu
    context: /menu
    version: v1
    endpoints:
      production: { type: http, url: "${backend.url}" }
  - name: orders
    context: /orders
    version: v1
    endpoints:
      production: { type: http, url: "${ordersUrl}" }
`

  before(async () => {
    backend = await startBackend((req, res) => {
      ports.push(req.socket.remotePort!)
      res.end(req.url)
    })
    gateway = await startGateway(apis(`${backend.url}/a`))
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  const get = async (path: string) => (await (await request(`${gateway.url}${path}`)).body.text())

  test('an unchanged endpoint keeps its object and its pooled connection; a changed one is replaced', async () => {
    assert.equal(await get('/menu/v1/x'), '/x')
    assert.equal(await get('/orders/v1/x'), '/a/x')
    const before = new Map(gateway.instance.gateway.snapshot.roots.map((endpoint) => [endpoint.id, endpoint]))
    const menuPort = ports[0]

    await gateway.instance.gateway.reload(parseConfig(apis(`${backend.url}/b`)))
    const afterReload = new Map(gateway.instance.gateway.snapshot.roots.map((endpoint) => [endpoint.id, endpoint]))
    assert.equal(afterReload.get('menu:v1:production'), before.get('menu:v1:production'), 'same endpoint object')
    assert.notEqual(afterReload.get('orders:v1:production'), before.get('orders:v1:production'), 'a new endpoint for the new URL')

    assert.equal(await get('/menu/v1/y'), '/y')
    assert.equal(ports.at(-1), menuPort, 'the menu request reused the connection opened before the reload')
    assert.equal(await get('/orders/v1/y'), '/b/y', 'the new URL is in use')
  })
})

describe('shutdown', () => {
  test('a keep-alive client does not hold the gateway open: close ends soon after the last response', async () => {
    const backend = await startBackend((_req, res) => setTimeout(() => res.end('late'), 300))
    const gateway = await startGateway(`
limits: { keepAliveTimeout: 20s }
apis:
  - { name: slow, context: /slow, version: v1, endpoints: { production: { type: http, url: "${backend.url}" } } }
`)
    const client = new Agent({ keepAliveTimeout: 60_000 })
    try {
      const inFlight = request(`${gateway.url}/slow/v1/x`, { dispatcher: client }).then((response) => response.body.text())
      await new Promise((resolve) => setTimeout(resolve, 100))
      const started = Date.now()
      await gateway.close()
      assert.equal(await inFlight, 'late', 'the request in flight finished')
      const took = Date.now() - started
      assert.ok(took < 2000, `close took ${took} ms; the idle keep-alive connection held it`)
    } finally {
      await client.close()
      await backend.close()
    }
  })

  test('requests still running after shutdownTimeout are cut off', async () => {
    const backend = await startBackend(() => {}) // never answers
    const gateway = await startGateway(`
limits: { shutdownTimeout: 300ms }
apis:
  - { name: hang, context: /hang, version: v1, endpoints: { production: { type: http, url: "${backend.url}" } } }
`)
    try {
      const inFlight = request(`${gateway.url}/hang/v1/x`).then(
        () => 'answered',
        () => 'cut off',
      )
      await new Promise((resolve) => setTimeout(resolve, 100))
      const started = Date.now()
      await gateway.close()
      const took = Date.now() - started
      assert.ok(took >= 250 && took < 3000, `close took ${took} ms`)
      assert.equal(await inFlight, 'cut off')
    } finally {
      await backend.close()
    }
  })
})

describe('reload with requests on their way', () => {
  test('an endpoint a reload retires stays open until the requests that started before the reload are done', async () => {
    const backend = await startBackend((req, res) => res.end(`saw ${req.url}`))
    // The IN sequence reads the body, so the request waits for its upload before reaching the endpoint.
    const config = (url: string) => `
apis:
  - name: orders
    context: /orders
    version: v1
    inSequence:
      - property: { name: pizza, jsonPath: "$.pizza" }
    endpoints:
      production: { type: http, url: "${url}" }
`
    const gateway = await startGateway(config(`${backend.url}/old`))
    try {
      let push: (chunk: string | null) => void = () => {}
      const body = new Readable({ read() {} })
      push = (chunk) => void body.push(chunk)
      const inFlight = request(`${gateway.url}/orders/v1/x`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })
      push('{"pizza":')
      await new Promise((resolve) => setTimeout(resolve, 200))
      await gateway.instance.gateway.reload(parseConfig(config(`${backend.url}/new`)))
      await new Promise((resolve) => setTimeout(resolve, 100))
      push('"diavola"}')
      push(null)
      const response = await inFlight
      assert.equal(response.statusCode, 200, 'not a 502 from a closed pool')
      assert.equal(await response.body.text(), 'saw /old/x', 'it finished on the snapshot it started with')
      assert.equal(await (await request(`${gateway.url}/orders/v1/y`, { method: 'POST', body: '{}' })).body.text(), 'saw /new/y')
    } finally {
      await gateway.close()
      await backend.close()
    }
  })
})
