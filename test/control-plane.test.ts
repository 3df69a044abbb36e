import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { ConfigStore, SCOPES } from '../src/store/store.ts'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { freePort, runCli, startCli } from './support/cli.ts'
import { PublisherClient } from './support/publisher-client.ts'
import { ENGINES, freshStore, type TestStore } from './support/stores.ts'
import { startStoreNode, type TestStoreNode } from './support/store-node.ts'

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`${what} did not happen within ${timeoutMs} ms`)
}

for (const engine of ENGINES) {
  describe(`the publisher API and a node on ${engine}`, () => {
    let served: TestStoreNode
    let location: TestStore
    let store: ConfigStore
    let backend: TestBackend
    let admin: string
    let gateway: string
    let token: string
    let viewer: string
    const call: TestStoreNode['call'] = (method, path, options) => served.call(method, path, options)
    const pizza = () => ({
      name: 'PizzaShack',
      context: '/pizzashack',
      version: 'v1',
      endpoints: { production: { type: 'http', url: backend.url, security: { auth: { type: 'basic', username: 'shack', password: 'p1zza-s3cret' } } } },
    })

    before(async () => {
      backend = await startEchoBackend('kitchen')
      served = await startStoreNode(engine)
      ;({ location, store, admin, gateway, token, viewer } = served)
    })
    after(async () => {
      await served.close()
      await backend.close()
    })

    test('no token: 401; a token without the scope: 403; the OpenAPI document is 3.1 and carries the file\'s API schema', async () => {
      assert.equal((await call('GET', '/apis', { token: null })).status, 401)
      assert.equal((await call('GET', '/apis', { token: 'portico_wrong' })).status, 401)
      const forbidden = await call('POST', '/apis', { token: viewer, body: pizza() })
      assert.deepEqual([forbidden.status, forbidden.body.code], [403, 'FORBIDDEN'])
      const openapi = await call('GET', '/openapi.json', { token: null })
      assert.equal(openapi.body.openapi, '3.1.0')
      assert.ok(openapi.body.components.schemas.Api.properties.endpoints)
      assert.ok(openapi.body.paths['/apis/{apiId}/lifecycle'].post)
    })

    test('an invalid API is refused with the field paths portico validate uses, and nothing is stored', async () => {
      const refused = await call('POST', '/apis', { body: { ...pizza(), context: 'pizza', endpoints: { production: { type: 'http', url: 'ftp://x' } } } })
      assert.equal(refused.status, 400)
      const paths = refused.body.errors.map((issue: { path: string }) => issue.path)
      assert.ok(paths.includes('context') && paths.includes('endpoints.production.url'), paths.join())
      // A mask is refused on create as on edit: stored, it would pass for the password.
      const masked = await call('POST', '/apis', { body: { ...pizza(), endpoints: { production: { type: 'http', url: 'http://127.0.0.1:9/', security: { auth: { type: 'basic', username: 'shack', password: '****' } } } } } })
      assert.equal(masked.status, 400)
      assert.deepEqual(masked.body.errors.map((issue: { path: string }) => issue.path), ['endpoints.production.security.auth.password'])
      // A malformed URI template, on a resource or in an endpoint URL, is the field's problem: 400, never a 500.
      const braces = await call('POST', '/apis', { body: { ...pizza(), resources: [{ uriTemplate: '/menu/{id' }], endpoints: { production: { type: 'http', url: 'http://127.0.0.1:9/a/{id' } } } })
      assert.equal(braces.status, 400)
      assert.deepEqual(braces.body.errors.map((issue: { path: string }) => issue.path).sort(), ['endpoints.production.url', 'resources[0].uriTemplate'])
      // A body nested thousands deep (well under the size limit) is a 400 with the place, not a stack overflow.
      // Written as text: JSON.stringify itself would overflow on it.
      const deepBody = `{"name":"Deep","context":"/deep","version":"v1","endpoints":{"production":${'{"type":"failover","endpoints":['.repeat(20_000)}{"type":"http","url":"http://127.0.0.1:9/"}${']}'.repeat(20_000)}}}`
      const deep = await request(`${admin}/api/v1/apis`, { method: 'POST', body: deepBody, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } })
      assert.equal(deep.statusCode, 400)
      assert.match(((await deep.body.json()) as { errors: Array<{ message: string }> }).errors[0]!.message, /^nests more than 64 levels deep$/)
      assert.equal((await call('GET', '/apis')).body.pagination.total, 0)
    })

    test('create, read without secrets, edit keeping the secret, a masked secret refused, concurrent edits: one 412', async () => {
      const created = await call('POST', '/apis', { body: pizza() })
      assert.equal(created.status, 201)
      assert.equal(created.headers.etag, '"1"')
      assert.ok(!created.text.includes('p1zza-s3cret'))
      const id = created.body.id
      const read = await call('GET', `/apis/${id}`)
      assert.ok(!read.text.includes('p1zza-s3cret') && !read.text.includes('password'), read.text)
      // The read sent back as it is: the stored password stays.
      const edited = await call('PUT', `/apis/${id}`, { body: { ...read.body, lifecycle: undefined }, headers: { 'if-match': '"1"' } })
      assert.equal(edited.status, 200)
      const stored = await store.getApi(id)
      assert.equal(((stored.config.endpoints as any).production.security.auth.password), 'p1zza-s3cret')
      const masked = await call('PUT', `/apis/${id}/endpoints`, { body: { production: { ...read.body.endpoints.production, security: { auth: { type: 'basic', username: 'shack', password: '********' } } } } })
      assert.equal(masked.status, 400)
      assert.equal(masked.body.errors[0].path, 'endpoints.production.security.auth.password')
      const etag = edited.headers.etag as string
      const [first, second] = await Promise.all(
        ['/a', '/b'].map((suffix) => call('PUT', `/apis/${id}/endpoints`, { body: { production: { type: 'http', url: `${backend.url}${suffix}`, security: { auth: { type: 'basic', username: 'shack' } } } }, headers: { 'if-match': etag } })),
      )
      assert.deepEqual([first!.status, second!.status].sort(), [200, 412])
      assert.equal(((await store.getApi(id)).config.endpoints as any).production.security.auth.password, 'p1zza-s3cret')
      const back = await call('PUT', `/apis/${id}/endpoints`, { body: { production: { type: 'http', url: backend.url, security: { auth: { type: 'basic', username: 'shack' } } } } })
      assert.equal(back.status, 200)
    })

    test('list, search and page', async () => {
      await call('POST', '/apis', { body: { name: 'Weather', context: '/weather', version: 'v1' } })
      const page = await call('GET', '/apis?limit=1&offset=1')
      assert.deepEqual([page.body.count, page.body.pagination.total, page.body.list[0].name], [1, 2, 'Weather'])
      assert.deepEqual((await call('GET', '/apis?query=name:pizza')).body.list.map((api: { name: string }) => api.name), ['PizzaShack'])
      assert.equal((await call('GET', '/apis?limit=x')).status, 400)
      // An integer to JavaScript, an overflow to the database: refused before the query.
      const huge = await call('GET', '/apis?offset=99999999999999999999')
      assert.equal(huge.status, 400)
      assert.equal(huge.body.errors[0].path, 'offset')
    })

    test('lifecycle: state and actions, a refused action, Publish; revision and deployment reach the node, which records it', async () => {
      const id = (await call('GET', '/apis?query=name:pizza')).body.list[0].id
      const lifecycle = await call('GET', `/apis/${id}/lifecycle`)
      assert.equal(lifecycle.body.state, 'CREATED')
      assert.deepEqual(lifecycle.body.availableTransitions.map((step: { event: string }) => step.event), ['Publish', 'Deploy as a Prototype'])
      assert.equal(lifecycle.body.checkItems.length, 2)
      const refused = await call('POST', `/apis/${id}/lifecycle?action=Retire`)
      assert.equal(refused.status, 409)
      assert.equal((await call('POST', `/apis/${id}/lifecycle?action=Publish`)).body.state, 'PUBLISHED')
      const revision = await call('POST', `/apis/${id}/revisions`, { body: { description: 'first' } })
      assert.equal(revision.status, 201)
      assert.ok(!(await call('GET', `/apis/${id}/revisions/${revision.body.id}`)).text.includes('p1zza-s3cret'))
      const deployed = await call('POST', `/apis/${id}/deployments`, { body: { revisionId: revision.body.id } })
      assert.equal(deployed.status, 201)
      await eventually('the node serves the deployed API', async () => (await request(`${gateway}/pizzashack/v1/menu`)).statusCode === 200)
      const answer = await request(`${gateway}/pizzashack/v1/menu`)
      assert.equal(answer.headers['x-backend'], 'kitchen')
      await answer.body.dump()
      await eventually('the deployment shows as deployed', async () => (await call('GET', `/apis/${id}/deployments`)).body.list[0].status === 'deployed')
      const nodes = await call('GET', '/nodes')
      assert.deepEqual(nodes.body.nodes.map((entry: { nodeId: string; version: number }) => [entry.nodeId, entry.version]), [['node-a', deployed.body.version]])
      assert.equal((await call('DELETE', `/apis/${id}`)).status, 409)
    })

    test('Block reaches the node; history says who and when; the audit log has every change and no secret', async () => {
      const id = (await call('GET', '/apis?query=name:pizza')).body.list[0].id
      assert.equal((await call('POST', `/apis/${id}/lifecycle`, { body: { action: 'Block' } })).status, 200)
      await eventually('the node answers 503 for a BLOCKED API', async () => {
        const response = await request(`${gateway}/pizzashack/v1/menu`)
        await response.body.dump()
        return response.statusCode === 503
      })
      const history = (await call('GET', `/apis/${id}/lifecycle-history`)).body.list
      assert.deepEqual(history.map((entry: { postState: string; user: string }) => [entry.postState, entry.user]), [['CREATED', 'token:test'], ['PUBLISHED', 'token:test'], ['BLOCKED', 'token:test']])
      const audit = await call('GET', '/audit')
      assert.ok(!audit.text.includes('p1zza-s3cret'))
      assert.ok(audit.body.list.some((entry: { action: string }) => entry.action === 'api.deploy'))
      assert.equal((await call('GET', '/audit', { token: viewer })).status, 403)
      const health = await request(`${admin}/health`)
      assert.equal(((await health.body.json()) as { store: { engine: string } }).store.engine, engine)
    })

    test('applications: keys whose secret is shown once and stored hashed; subscriptions with a tier, only to live APIs', async () => {
      const app = await call('POST', '/applications', { body: { name: 'mobile', throttlingPolicy: 'Gold' } })
      assert.deepEqual([app.status, app.body.throttlingPolicy], [201, 'Gold'])
      assert.equal((await call('POST', '/applications', { body: { name: 'mobile' } })).status, 409)
      const bad = await call('POST', '/applications', { body: { throttlingPolicy: 'no spaces' } })
      assert.deepEqual(bad.body.errors.map((issue: { path: string }) => issue.path), ['name', 'throttlingPolicy'])
      const keys = await call('POST', `/applications/${app.body.id}/generate-keys`, { body: { keyType: 'PRODUCTION' } })
      assert.equal(keys.status, 201)
      assert.ok(keys.body.consumerSecret.length >= 40)
      const listed = await call('GET', `/applications/${app.body.id}/keys`)
      assert.deepEqual(listed.body.list.map((key: { keyType: string; consumerKey: string }) => [key.keyType, key.consumerKey]), [['PRODUCTION', keys.body.consumerKey]])
      assert.ok(!listed.text.includes(keys.body.consumerSecret))
      assert.deepEqual(await store.applications.verifyKey(keys.body.consumerKey, keys.body.consumerSecret), { applicationId: app.body.id, keyType: 'PRODUCTION' })
      assert.equal(await store.applications.verifyKey(keys.body.consumerKey, 'guess'), undefined)
      const weather = (await call('GET', '/apis?query=name:weather')).body.list[0].id
      const refused = await call('POST', '/subscriptions', { body: { applicationId: app.body.id, apiId: weather, throttlingPolicy: 'Gold' } })
      assert.deepEqual([refused.status, refused.body.message], [409, 'API Weather v1 is CREATED: only PUBLISHED and PROTOTYPED APIs take subscriptions'])
      const pizzaId = (await call('GET', '/apis?query=name:pizza')).body.list[0].id
      await call('POST', `/apis/${pizzaId}/lifecycle?action=Re-Publish`)
      const subscribed = await call('POST', '/subscriptions', { body: { applicationId: app.body.id, apiId: pizzaId, throttlingPolicy: 'Silver' } })
      assert.deepEqual([subscribed.status, subscribed.body.throttlingPolicy, subscribed.body.status], [201, 'Silver', 'UNBLOCKED'])
      assert.equal((await call('POST', '/subscriptions', { body: { applicationId: app.body.id, apiId: pizzaId } })).status, 409)
      assert.equal((await call('GET', `/subscriptions?apiId=${pizzaId}`)).body.count, 1)
      assert.equal((await call('POST', '/subscriptions', { token: viewer, body: { applicationId: app.body.id, apiId: pizzaId } })).status, 403)
      assert.equal((await call('DELETE', `/subscriptions/${subscribed.body.id}`)).status, 204)
      assert.equal((await call('GET', `/subscriptions?applicationId=${app.body.id}`)).body.count, 0)
      assert.equal((await call('DELETE', `/applications/${app.body.id}`)).status, 204)
      assert.equal((await call('GET', `/applications/${app.body.id}`)).status, 404)
    })

    test('roll back by deploying an older revision; undeploy; a forced delete of a deployed API', async () => {
      const created = await call('POST', '/apis', { body: { name: 'Rollback', context: '/rollback', version: 'v1', endpoints: { production: { type: 'http', url: `${backend.url}/one` } } } })
      const id = created.body.id
      await call('POST', `/apis/${id}/lifecycle?action=Publish`)
      const one = (await call('POST', `/apis/${id}/revisions`)).body
      await call('PUT', `/apis/${id}/endpoints`, { body: { production: { type: 'http', url: `${backend.url}/two` } } })
      const two = (await call('POST', `/apis/${id}/revisions`)).body
      const lastPath = async () => {
        const response = await request(`${gateway}/rollback/v1`)
        const body = (await response.body.json()) as { url: string }
        return body.url
      }
      await call('POST', `/apis/${id}/deployments`, { body: { revisionId: two.id } })
      await eventually('revision 2 serves', async () => (await lastPath()) === '/two')
      await call('POST', `/apis/${id}/deployments`, { body: { revisionId: one.id } })
      await eventually('revision 1 serves again', async () => (await lastPath()) === '/one')
      const revisions = (await call('GET', `/apis/${id}/revisions`)).body.list
      assert.deepEqual(revisions.map((revision: { number: number; deployments: string[] }) => [revision.number, revision.deployments]), [[1, ['default']], [2, []]])
      assert.equal((await call('DELETE', `/apis/${id}/deployments/default`)).status, 200)
      await eventually('the undeployed API is gone from the node', async () => {
        const response = await request(`${gateway}/rollback/v1`)
        await response.body.dump()
        return response.statusCode === 404
      })
      assert.equal((await call('DELETE', `/apis/${id}/deployments/default`)).status, 404)
      await call('POST', `/apis/${id}/deployments`, { body: { revisionId: two.id } })
      assert.equal((await call('DELETE', `/apis/${id}`)).status, 409)
      assert.equal((await call('DELETE', `/apis/${id}?force=true`)).status, 204)
      assert.equal((await call('GET', `/apis/${id}`)).status, 404)
      assert.equal((await call('GET', '/applications')).status, 200)
    })

    test('new version from an existing one; tokens are created, listed without their text and revoked', async () => {
      const id = (await call('GET', '/apis?query=name:pizza')).body.list[0].id
      const copy = await call('POST', `/apis/${id}/new-version`, { body: { version: 'v2' } })
      assert.deepEqual([copy.status, copy.body.version, copy.body.lifecycle], [201, 'v2', 'CREATED'])
      // WSO2's REST form of the checklist: v1 (PUBLISHED again since Re-Publish) is deprecated.
      assert.equal((await call('GET', `/apis/${id}/lifecycle`)).body.state, 'PUBLISHED')
      const published = await call('POST', `/apis/${copy.body.id}/lifecycle?action=Publish&lifecycleChecklist=${encodeURIComponent('Deprecate old versions:true,Require re-subscription:true')}`)
      assert.equal(published.body.state, 'PUBLISHED')
      assert.equal((await call('GET', `/apis/${id}/lifecycle`)).body.state, 'DEPRECATED')
      const created = await call('POST', '/tokens', { body: { name: 'ci', scopes: ['view'] } })
      assert.equal(created.status, 201)
      const list = await call('GET', '/tokens')
      assert.ok(!list.text.includes(created.body.token))
      assert.equal((await call('GET', '/apis', { token: created.body.token })).status, 200)
      assert.equal((await call('DELETE', `/tokens/${created.body.id}`)).status, 204)
      assert.equal((await call('GET', '/apis', { token: created.body.token })).status, 401)
    })
  })
}

describe('apply and export', () => {
  for (const engine of ENGINES) {
    test(`on ${engine}: apply then export is stable, and a RETIRED API stays retired`, async () => {
      const location = freshStore(engine)
      const directory = mkdtempSync(join(tmpdir(), 'portico-apply-'))
      const file = join(directory, 'portico.yaml')
      writeFileSync(file, `listeners:\n  - port: 18280\napis:\n  - name: Orders\n    context: /orders\n    version: v1\n    lifecycle: DEPRECATED\n    endpoints:\n      production: { type: http, url: "http://127.0.0.1:9/orders" }\n`)
      try {
        const dry = await runCli(['apply', '-f', file, '--store', location.url, '--dry-run'])
        assert.equal(dry.code, 0, dry.stderr)
        assert.match(dry.stdout, /^~ settings: listeners\n\+ api Orders v1 \(DEPRECATED\)\n/)
        assert.match(dry.stdout, /dry run: nothing applied/)
        const applied = await runCli(['apply', '-f', file, '--store', location.url])
        assert.equal(applied.code, 0, applied.stderr)
        assert.match(applied.stdout, /applied as config version 1/)
        const first = await runCli(['export', '--store', location.url])
        const exported = join(directory, 'exported.yaml')
        writeFileSync(exported, first.stdout.replace('lifecycle: DEPRECATED', 'lifecycle: RETIRED'))
        assert.match((await runCli(['apply', '-f', exported, '--store', location.url])).stdout, /~ api Orders v1 \(DEPRECATED → RETIRED\)\n/)
        // A changed field is named, its value never shown.
        const moved = join(directory, 'moved.yaml')
        writeFileSync(moved, readFileSync(exported, 'utf8').replace('http://127.0.0.1:9/orders', 'http://127.0.0.1:9/orders-v2'))
        const preview = await runCli(['apply', '-f', moved, '--store', location.url, '--dry-run'])
        assert.match(preview.stdout, /~ api Orders v1: endpoints\.production\.url\n/)
        assert.doesNotMatch(preview.stdout, /orders-v2/)
        const second = await runCli(['export', '--store', location.url, '-o', join(directory, 'second.yaml')])
        assert.equal(second.code, 0)
        assert.equal(readFileSync(join(directory, 'second.yaml'), 'utf8'), readFileSync(exported, 'utf8'))
        assert.match((await runCli(['apply', '-f', exported, '--store', location.url])).stdout, /no changes/)
        // A RETIRED API cannot come back.
        writeFileSync(exported, readFileSync(exported, 'utf8').replace('lifecycle: RETIRED', 'lifecycle: PUBLISHED'))
        const refused = await runCli(['apply', '-f', exported, '--store', location.url])
        assert.equal(refused.code, 1)
        assert.match(refused.stderr, /apis\[0\]\.lifecycle: cannot change from RETIRED to PUBLISHED/)
      } finally {
        await location.drop()
      }
    })
  }
})

test('a second gateway process on the same PostgreSQL picks up a deployment', async (t) => {
  const location = freshStore('postgres')
  const backend = await startEchoBackend('second')
  const store = await ConfigStore.open(location.url)
  const [portA, portB, adminA, adminB] = [await freePort(), await freePort(), await freePort(), await freePort()]
  await store.apply({ accessLog: { enabled: false } }, 'test')
  await store.createToken('test', SCOPES, 'test')
  const nodes = [
    startCli(['start', '--store', location.url, '--port', String(portA), '--admin-port', String(adminA), '--poll', '30']),
    startCli(['start', '--store', location.url, '--port', String(portB), '--admin-port', String(adminB), '--poll', '30']),
  ]
  try {
    await Promise.all(nodes.map((node) => node.waitForLog('serving config version')))
    const api = await store.createApi({ name: 'Second', context: '/second', version: 'v1', endpoints: { production: { type: 'http', url: backend.url } } }, 'test')
    await store.changeLifecycle(api.id, 'Publish', 'test')
    const revision = await store.createRevision(api.id, 'test')
    const started = Date.now()
    await store.deploy(api.id, revision.id, 'default', 'test')
    // The poll is 30 s: only the notification can bring both nodes here this soon.
    for (const port of [portA, portB]) {
      await eventually(`the node on ${port} serves the deployment`, async () => {
        const response = await request(`http://127.0.0.1:${port}/second/v1/x`)
        await response.body.dump()
        return response.statusCode === 200
      }, 10_000)
    }
    const elapsed = Date.now() - started
    assert.ok(elapsed < 10_000)
    t.diagnostic(`deploy to both nodes serving it: ${elapsed} ms`)
    await eventually('both nodes recorded the version', async () => (await store.nodes()).filter((entry) => entry.version === 2 && entry.error === null).length === 2)
  } finally {
    await Promise.all(nodes.map((node) => node.stop()))
    await store.close()
    await backend.close()
    await location.drop()
  }
})

/** GET over a fresh connection each time, so that with several workers every one of them gets a share. */
function getFresh(url: string): Promise<{ status: number; backend: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: 10_000 }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode!, backend: res.headers['x-backend'] as string | undefined }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}

for (const engine of ENGINES) {
  test(`start --store --workers 2 on ${engine}: every worker serves what is deployed and follows each deployment; the primary serves the publisher API`, async () => {
    const location = freshStore(engine)
    const [blue, green] = [await startEchoBackend('blue'), await startEchoBackend('green')]
    const store = await ConfigStore.open(location.url)
    const [port, adminPort] = [await freePort(), await freePort()]
    await store.apply({ accessLog: { enabled: false } }, 'test')
    const { token } = await store.createToken('test', SCOPES, 'test')
    await store.close()
    // A minute between polls: only a change made through the primary's publisher API wakes the node this soon.
    const node = startCli(['start', '--store', location.url, '--workers', '2', '--port', String(port), '--admin-port', String(adminPort), '--poll', '60'])
    const publisher = new PublisherClient(`http://127.0.0.1:${adminPort}`, token)
    const served = async (backend: string) => {
      for (let i = 0; i < 20; i++) assert.deepEqual(await getFresh(`http://127.0.0.1:${port}/shop/v1/x`), { status: 200, backend }, 'every worker serves the same config')
    }
    try {
      await node.waitForLog('serving config version')
      await node.waitForLog('worker serving on', 2)
      const { id, version: first } = await publisher.publish('shop', blue.url)
      const nodeVersion = async () => ((await publisher.call('GET', '/nodes')).nodes as { version: number }[]).map((entry) => entry.version)
      await eventually('the node records the deployment', async () => (await nodeVersion())[0] === first)
      // Recorded once every worker swapped it in: each logs its own reload.
      assert.equal(node.log().split('"msg":"config reloaded"').length - 1, 2)
      await served('blue')

      const version = await publisher.redeploy(id, green.url)
      await eventually('the node records the second deployment', async () => (await nodeVersion())[0] === version)
      await served('green')
      assert.deepEqual(await nodeVersion(), [version], 'one node: the workers follow their primary, which alone reads the store')
      const health = (await (await request(`http://127.0.0.1:${adminPort}/health`)).body.json()) as { store: { connected: boolean; appliedVersion: number } }
      assert.deepEqual([health.store.connected, health.store.appliedVersion], [true, version])
      const view = (await (await request(`http://127.0.0.1:${adminPort}/admin/endpoints`)).body.json()) as { workers: number }
      assert.equal(view.workers, 2)
    } finally {
      await node.stop()
      await blue.close()
      await green.close()
      await location.drop()
    }
  })
}

test('start --store refuses the file options (--config, --watch), a bad --workers and an unknown store scheme', async () => {
  const refused = await runCli(['start', '--store', 'sqlite:./never-made', '--watch'])
  assert.equal(refused.code, 2)
  assert.match(refused.stderr, /--store serves what the store holds: --config and --watch are for a config file/)
  const workers = await runCli(['start', '--store', 'sqlite:./never-made', '--workers', 'two'])
  assert.equal(workers.code, 2)
  assert.match(workers.stderr, /--workers must be a whole number of at least 1, got "two"/)
  const unknown = await runCli(['start', '--store', 'mysql://localhost/x'])
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /"mysql:\/\/localhost\/x" is not a store: use sqlite:DIR or postgres:\/\//)
})
