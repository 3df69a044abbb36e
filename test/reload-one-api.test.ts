import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { parseConfig } from '../src/config/load.ts'
import { ConfigReader } from '../src/config/reader.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

describe('a reload that changes one API', () => {
  let backend: TestBackend
  let gateway: TestGateway
  const api = (name: string, resources = '[{ uriTemplate: "/items/{id}", methods: [GET] }]') => `
  - name: ${name}
    context: /${name}
    version: v1
    resources: ${resources}
    endpoints:
      production: { type: http, url: "${backend.url}/${name}" }
`
  const config = (changed?: string, limits = '') => `${limits}apis:${api('a')}${api('b', changed)}${api('c')}`
  const reload = (yaml: string) =>
    gateway.instance.gateway.reload({ ...parseConfig(yaml, 'next.yaml'), listeners: gateway.instance.gateway.snapshot.config.listeners })
  const compiled = () => new Map(gateway.instance.gateway.snapshot.apis.map((compiledApi) => [compiledApi.name, compiledApi]))

  before(async () => {
    backend = await startBackend((req, res) => res.end(req.url))
    gateway = await startGateway(config())
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  const get = async (path: string) => {
    const response = await request(`${gateway.url}${path}`)
    return { status: response.statusCode, body: await response.body.text() }
  }

  test('recompiles that API only: the others keep their compiled API, resources and endpoints', async () => {
    const before = compiled()
    const endpointsBefore = new Set(gateway.instance.gateway.snapshot.endpoints.values())
    await reload(config('[{ uriTemplate: "/items/{id}", methods: [GET] }, { uriTemplate: /orders, methods: [GET] }]'))
    const afterReload = compiled()
    assert.equal(afterReload.get('a'), before.get('a'))
    assert.equal(afterReload.get('c'), before.get('c'))
    assert.notEqual(afterReload.get('b'), before.get('b'))
    for (const endpoint of gateway.instance.gateway.snapshot.endpoints.values()) assert.ok(endpointsBefore.has(endpoint), `${endpoint.id} is the same object`)
    assert.deepEqual(await get('/b/v1/orders'), { status: 200, body: '/b/orders' }, 'the new resource is served')
    assert.deepEqual(await get('/a/v1/items/1'), { status: 200, body: '/a/items/1' }, 'a reused API still serves')
  })

  test('with a config reader, finds unchanged APIs by their object wherever they moved, and retires only the endpoints of what left', async () => {
    const reader = new ConfigReader()
    const apply = (yaml: string) => gateway.instance.gateway.reload({ ...reader.parse(yaml, 'next.yaml'), listeners: gateway.instance.gateway.snapshot.config.listeners })
    const all = (...names: string[]) => `apis:${names.map((name) => api(name)).join('')}`
    await apply(all('a', 'b', 'c'))
    const before = compiled()
    const endpointsBefore = new Map([...gateway.instance.gateway.snapshot.endpoints.values()].map((endpoint) => [endpoint.id, endpoint]))
    const snapshotBefore = gateway.instance.gateway.snapshot
    await apply(all('d', 'a', 'c'))
    const afterReload = compiled()
    assert.equal(afterReload.get('a'), before.get('a'), 'a moved and is reused')
    assert.equal(afterReload.get('c'), before.get('c'), 'c moved and is reused')
    assert.deepEqual(snapshotBefore.retiredBy(gateway.instance.gateway.snapshot).map((endpoint) => endpoint.id), ['b:v1:production'])
    assert.equal(gateway.instance.gateway.snapshot.endpoints.get([...gateway.instance.gateway.snapshot.endpoints.keys()].find((key) => key.startsWith('a:v1:'))!), endpointsBefore.get('a:v1:production'))
    assert.deepEqual(await get('/d/v1/items/3'), { status: 200, body: '/d/items/3' })
    const gone = await get('/b/v1/items/3')
    assert.equal(gone.status, 404)
    assert.equal(JSON.parse(gone.body).code, 'NO_ROUTE')
    assert.deepEqual(await get('/a/v1/items/4'), { status: 200, body: '/a/items/4' })
  })

  test('a named endpoint that moves to another API keeps its object and is not retired; a changed one is', async () => {
    const reader = new ConfigReader()
    const apply = (yaml: string) => gateway.instance.gateway.reload({ ...reader.parse(yaml, 'next.yaml'), listeners: gateway.instance.gateway.snapshot.config.listeners })
    const named = (name: string, url = `${backend.url}/shared`) => api(name).replace(/production: \{ type: http, url: "[^"]*" \}/, `production: { type: http, name: shared-backend, url: "${url}" }`)
    await apply(`apis:${named('a')}${api('b')}`)
    const shared = [...gateway.instance.gateway.snapshot.endpoints.values()].find((endpoint) => endpoint.id === 'shared-backend')!
    const before = gateway.instance.gateway.snapshot
    await apply(`apis:${api('a')}${named('b')}`)
    assert.equal([...gateway.instance.gateway.snapshot.endpoints.values()].find((endpoint) => endpoint.id === 'shared-backend'), shared)
    assert.deepEqual(before.retiredBy(gateway.instance.gateway.snapshot).map((endpoint) => endpoint.id), ['b:v1:production'])
    const moved = gateway.instance.gateway.snapshot
    await apply(`apis:${api('a')}${named('b', `${backend.url}/elsewhere`)}`)
    assert.deepEqual(moved.retiredBy(gateway.instance.gateway.snapshot), [shared])
    assert.deepEqual(await get('/b/v1/items/5'), { status: 200, body: '/elsewhere/items/5' })
  })

  test('two APIs of one name and version share their endpoint; a change to one does not retire the other\'s', async () => {
    const reader = new ConfigReader()
    const apply = (yaml: string) => gateway.instance.gateway.reload({ ...reader.parse(yaml, 'next.yaml'), listeners: gateway.instance.gateway.snapshot.config.listeners })
    const twin = (context: string, url = `${backend.url}/twin`) => api('t').replace('context: /t', `context: ${context}`).replace(/url: "[^"]*"/, `url: "${url}"`)
    await apply(`apis:${twin('/one')}${twin('/two')}`)
    const before = gateway.instance.gateway.snapshot
    await apply(`apis:${twin('/one', `${backend.url}/other`)}${twin('/two')}`)
    assert.deepEqual(before.retiredBy(gateway.instance.gateway.snapshot), [])
    assert.deepEqual(await get('/two/v1/items/6'), { status: 200, body: '/twin/items/6' })
    assert.deepEqual(await get('/one/v1/items/6'), { status: 200, body: '/other/items/6' })
  })

  test('a change of the limits its filters read recompiles every API', async () => {
    const before = compiled()
    await reload(config(undefined, 'limits: { mediationBodyBytes: 4096 }\n'))
    const afterReload = compiled()
    for (const name of ['a', 'b', 'c']) assert.notEqual(afterReload.get(name), before.get(name), `${name} is recompiled`)
    assert.deepEqual(await get('/c/v1/items/2'), { status: 200, body: '/c/items/2' })
  })
})

describe('a reload that changes only the shared throttling policies', () => {
  let backend: TestBackend
  let gateway: TestGateway
  const config = (requests: number) => `
throttling:
  policies: [{ name: tight, limit: { requests: ${requests}, per: minute } }]
apis:
  - name: t
    context: /t
    version: v1
    throttling: { policies: [tight] }
    resources: [{ uriTemplate: "/items/{id}", methods: [GET] }]
    endpoints:
      production: { type: http, url: "${backend.url}/t" }
`
  before(async () => {
    backend = await startBackend((req, res) => res.end(req.url))
    gateway = await startGateway(config(1))
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  test('recompiles the APIs that use them, so the new limit applies at once', async () => {
    const status = async () => {
      const response = await request(`${gateway.url}/t/v1/items/1`)
      await response.body.dump()
      return response.statusCode
    }
    assert.equal(await status(), 200)
    assert.equal(await status(), 429, 'one request a minute: the second is refused')
    const before = gateway.instance.gateway.snapshot.apis[0]
    await gateway.instance.gateway.reload({ ...parseConfig(config(100), 'next.yaml'), listeners: gateway.instance.gateway.snapshot.config.listeners })
    assert.notEqual(gateway.instance.gateway.snapshot.apis[0], before, 'the API is recompiled')
    assert.equal(await status(), 200, 'the raised limit admits the request')
  })
})
