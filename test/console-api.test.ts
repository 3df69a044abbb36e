import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { ConfigStore, SCOPES } from '../src/store/store.ts'
import { freePort, startCli } from './support/cli.ts'
import { SwitchableBackend } from './support/switchable-backend.ts'
import { freshStore } from './support/stores.ts'
import { startStoreNode, type TestStoreNode } from './support/store-node.ts'

/** What the console reads beyond the publisher API's records: who the token is, live endpoint state, tests. */
describe('the publisher API\'s calls for the console', () => {
  let served: TestStoreNode
  let node: TestStoreNode['node']
  let admin: string
  let token: string
  let viewer: string
  let backend: SwitchableBackend
  const call = async (method: string, path: string, body?: unknown, options: { token?: string; headers?: Record<string, string> } = {}) =>
    served.call(method, path, { ...(body === undefined ? {} : { body }), ...options })
  /** Creates, publishes and deploys an API whose production endpoint is `endpoint`; answers its id. */
  const deployed = async (name: string, endpoint: object) => {
    const created = await call('POST', '/apis', { name, context: `/${name.toLowerCase()}`, version: 'v1', resources: [{ uriTemplate: '/*' }], endpoints: { production: endpoint } })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    await call('POST', `/apis/${created.body.id}/lifecycle`, { action: 'Publish' })
    const revision = await call('POST', `/apis/${created.body.id}/revisions`, {})
    assert.equal((await call('POST', `/apis/${created.body.id}/deployments`, { revisionId: revision.body.id })).status, 201)
    return created.body.id as string
  }

  before(async () => {
    backend = await SwitchableBackend.start('kitchen')
    served = await startStoreNode('sqlite', { tokenName: 'operator' })
    ;({ node, admin, token, viewer } = served)
  })
  after(async () => {
    await served.close()
    await backend.stop()
  })

  test('GET /me names the token and its scopes; no token: 401', async () => {
    assert.deepEqual((await call('GET', '/me', undefined, { token: viewer })).body, { name: 'viewer', scopes: ['view'] })
    assert.equal((await call('GET', '/me', undefined, { token: 'portico_unknown' })).status, 401)
  })

  test('the API list says where each API is deployed', async () => {
    const id = await deployed('Listed', { type: 'http', url: backend.url })
    const page = await call('GET', '/apis?query=name:Listed')
    assert.deepEqual(page.body.list.map((api: { id: string; deployedTo: string[] }) => [api.id, api.deployedTo]), [[id, ['default']]])
  })

  test('endpoint health: JSON by API, a stream of server-sent events that follows a suspension, and a reset', async () => {
    await deployed('Health', { type: 'http', url: backend.url, suspendOnFailure: { initialDuration: '30s' } })
    const view = await call('GET', '/endpoint-health')
    assert.deepEqual(view.body.apis['Health:v1'], ['Health:v1:production'])
    assert.equal(view.body.endpoints.find((root: { id: string }) => root.id === 'Health:v1:production').state, 'active')

    const events: Array<{ endpoints: Array<{ id: string; state: string }> }> = []
    const abort = new AbortController()
    const stream = await request(`${admin}/api/v1/endpoint-health`, { headers: { authorization: `Bearer ${viewer}`, accept: 'text/event-stream' }, signal: abort.signal })
    assert.match(String(stream.headers['content-type']), /^text\/event-stream/)
    let buffer = ''
    const reading = (async () => {
      try {
        for await (const chunk of stream.body) {
          buffer += chunk.toString()
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1]
            buffer = buffer.slice(end + 2)
            if (data) events.push(JSON.parse(data))
          }
        }
      } catch {
        // aborted at the end of the test
      }
    })()
    const stateOf = () => events.at(-1)?.endpoints.find((root) => root.id === 'Health:v1:production')?.state
    const until = async (state: string) => {
      const deadline = Date.now() + 5000
      while (stateOf() !== state) {
        assert.ok(Date.now() < deadline, `the stream said ${state} within 5 s (last: ${stateOf()})`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    await until('active')
    const gateway = node.instance!.gateway.addresses()[0]!.url
    await backend.stop()
    await request(`${gateway}/health/v1`).then((answer) => answer.body.dump())
    await until('suspended')
    await backend.restart()

    assert.equal((await call('POST', '/endpoint-health/Health%3Av1%3Aproduction/reset', undefined, { token: viewer })).status, 403, 'a reset needs the publish scope')
    assert.equal((await call('POST', '/endpoint-health/nothing-here/reset')).status, 404)
    assert.deepEqual([(await call('POST', '/endpoint-health/%ZZ/reset')).status, (await call('GET', '/apis/%E0%A4%A')).status], [400, 400])
    assert.deepEqual((await call('POST', '/endpoint-health/Health%3Av1%3Aproduction/reset')).body, { id: 'Health:v1:production', reset: 1 })
    await until('active')
    abort.abort()
    await reading
  })

  test('test endpoint: calls each leaf with the method and path, within the rules of dynamic endpoints', async () => {
    const adminPort = Number(new URL(admin).port)
    const created = await call('POST', '/apis', {
      name: 'Probe',
      context: '/probe',
      version: 'v1',
      resources: [{ uriTemplate: '/{id}' }],
      endpoints: {
        production: {
          type: 'failover',
          endpoints: [
            { type: 'http', url: `${backend.url}/base/{uri.var.id}` },
            { type: 'http', url: `http://127.0.0.1:${adminPort}/api/v1` },
            { type: 'http', url: 'http://169.254.169.254/latest' },
            { type: 'lambda', function: 'orders', region: 'eu-west-1' },
          ],
        },
      },
    })
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const id = created.body.id
    const answer = await call('POST', `/apis/${id}/endpoint-test`, { environment: 'production', method: 'get', path: '/ping?x=1' })
    assert.equal(answer.status, 200)
    const [first, admin_, metadata, lambda] = answer.body.leaves
    assert.equal(first.url, `${backend.url}/base/ping?x=1`)
    assert.equal(first.answer.status, 200)
    assert.equal(backend.received.at(-1)?.path, '/base/ping')
    assert.match(admin_.error, /^refused: .*admin port/)
    assert.match(metadata.error, /^refused: .*link-local/)
    assert.match(lambda.error, /no address/)
    assert.equal(answer.body.leaves.length, 4)

    const bad = await call('POST', `/apis/${id}/endpoint-test`, { environment: 'production', method: 'TRACE', path: '/' })
    assert.deepEqual([bad.status, bad.body.errors[0].path], [400, 'method'])
    assert.equal((await call('POST', `/apis/${id}/endpoint-test`, { environment: 'sandbox' })).status, 400)
    assert.equal((await call('POST', `/apis/${id}/endpoint-test`, {}, { token: viewer })).status, 403)
  })

  test('try it: a request to the API through the node\'s own listener; paths outside the API are refused', async () => {
    const id = await deployed('Tried', { type: 'http', url: backend.url })
    const answer = await call('POST', `/apis/${id}/try`, { method: 'POST', path: '/tried/v1/orders', headers: { 'x-note': 'from the console' }, body: 'one pizza' })
    assert.equal(answer.status, 200)
    assert.equal(answer.body.status, 200)
    assert.equal(answer.body.body, 'kitchen')
    assert.match(answer.body.url, /^http:\/\/127\.0\.0\.1:\d+\/tried\/v1\/orders$/)
    assert.equal(answer.body.headers['x-backend'], 'kitchen')
    assert.deepEqual(backend.received.at(-1), { ...backend.received.at(-1)!, method: 'POST', path: '/orders', bytes: 9 })

    const outside = await call('POST', `/apis/${id}/try`, { path: '/listed/v1' })
    assert.deepEqual([outside.status, outside.body.errors[0].path], [400, 'path'])
    const header = await call('POST', `/apis/${id}/try`, { path: '/tried/v1', headers: { 'bad header': 'x' } })
    assert.equal(header.status, 400)
    for (const headers of [{ 'transfer-encoding': 'chunked' }, { 'x-split': 'a\r\nx-injected: 1' }]) {
      const refused = await call('POST', `/apis/${id}/try`, { path: '/tried/v1', headers })
      assert.deepEqual([refused.status, refused.body.errors[0].path], [400, `headers.${Object.keys(headers)[0]}`])
    }
  })
})

test('with --workers 2 the primary resets a leaf for every worker, and try it reaches their listener', async () => {
  const location = freshStore('sqlite')
  const backend = await SwitchableBackend.start('kitchen')
  const store = await ConfigStore.open(location.url)
  const [port, adminPort] = [await freePort(), await freePort()]
  await store.apply({ accessLog: { enabled: false } }, 'test')
  const { token } = await store.createToken('test', SCOPES, 'test')
  await store.close()
  const node = startCli(['start', '--store', location.url, '--workers', '2', '--port', String(port), '--admin-port', String(adminPort), '--poll', '60'])
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await request(`http://127.0.0.1:${adminPort}/api/v1${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.body.text()
    return { status: response.statusCode, body: text ? JSON.parse(text) : undefined }
  }
  const leafState = async () => ((await call('GET', '/endpoint-health')).body.endpoints as { id: string; state: string }[]).find((root) => root.id === 'Shared:v1:production')?.state
  try {
    await node.waitForLog('worker serving on', 2)
    const created = await call('POST', '/apis', { name: 'Shared', context: '/shared', version: 'v1', resources: [{ uriTemplate: '/*' }], endpoints: { production: { type: 'http', url: backend.url, suspendOnFailure: { initialDuration: '60s' } } } })
    await call('POST', `/apis/${created.body.id}/lifecycle`, { action: 'Publish' })
    const revision = await call('POST', `/apis/${created.body.id}/revisions`, {})
    await call('POST', `/apis/${created.body.id}/deployments`, { revisionId: revision.body.id })
    const deadline = Date.now() + 10_000
    while ((await call('POST', `/apis/${created.body.id}/try`, { path: '/shared/v1' })).body?.status !== 200) {
      assert.ok(Date.now() < deadline, 'the workers serve the deployment within 10 s')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await backend.stop()
    const failed = await call('POST', `/apis/${created.body.id}/try`, { path: '/shared/v1' })
    assert.ok(failed.body.status >= 500)
    assert.equal(await leafState(), 'suspended')
    await backend.restart()
    assert.deepEqual((await call('POST', '/endpoint-health/Shared%3Av1%3Aproduction/reset')).body, { id: 'Shared:v1:production', reset: 1 })
    const back = Date.now() + 5000
    while ((await leafState()) !== 'active') {
      assert.ok(Date.now() < back, 'every worker sees the leaf active again')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // The state the workers share is active again: requests pass.
    for (let i = 0; i < 6; i++) assert.equal((await call('POST', `/apis/${created.body.id}/try`, { path: '/shared/v1' })).body.status, 200)
  } finally {
    await node.stop()
    await backend.stop()
    await location.drop()
  }
})
