import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { LIFECYCLE_STATES, type LifecycleState } from '../src/config/lifecycle.ts'
import { availableActions, takeAction } from '../src/store/lifecycle-actions.ts'
import { jsonWithList } from '../src/store/revision-apis.ts'
import { ConfigStore } from '../src/store/store.ts'
import { StoreError } from '../src/store/errors.ts'
import { ENGINES, freshStore, type TestStore } from './support/stores.ts'

const pizza = (version = 'v1') => ({
  name: 'PizzaShack',
  context: '/pizzashack',
  version,
  endpoints: {
    production: {
      type: 'http',
      url: 'http://127.0.0.1:9/menu',
      security: { auth: { type: 'basic', username: 'admin', password: 's3cret' } },
    },
  },
})

/** WSO2's default lifecycle (APILifeCycle.xml): every state's actions and where they lead. */
const WSO2_TABLE: Record<LifecycleState, Record<string, LifecycleState>> = {
  CREATED: { Publish: 'PUBLISHED', 'Deploy as a Prototype': 'PROTOTYPED' },
  PROTOTYPED: { Publish: 'PUBLISHED', 'Demote to Created': 'CREATED' },
  PUBLISHED: { Block: 'BLOCKED', 'Deploy as a Prototype': 'PROTOTYPED', 'Demote to Created': 'CREATED', Deprecate: 'DEPRECATED' },
  BLOCKED: { Deprecate: 'DEPRECATED', 'Re-Publish': 'PUBLISHED' },
  DEPRECATED: { Retire: 'RETIRED' },
  RETIRED: {},
}

test('the lifecycle table is WSO2\'s: each state offers exactly its actions, and no other action is taken', () => {
  const everyAction = new Set(Object.values(WSO2_TABLE).flatMap((actions) => Object.keys(actions)))
  for (const state of LIFECYCLE_STATES) {
    assert.deepEqual(Object.fromEntries(availableActions(state).map((entry) => [entry.action, entry.target])), WSO2_TABLE[state], state)
    for (const action of everyAction) {
      const result = takeAction(state, action)
      if (WSO2_TABLE[state][action]) assert.deepEqual(result, { action, target: WSO2_TABLE[state][action] })
      else assert.match((result as { problem: string }).problem, new RegExp(`is not available for an API in state ${state}`))
    }
  }
  assert.deepEqual(takeAction('PUBLISHED', 'Demote to Prototyped'), { action: 'Deploy as a Prototype', target: 'PROTOTYPED' })
  assert.match((takeAction('CREATED', 'Launch') as { problem: string }).problem, /"Launch" is not a lifecycle action; available: "Publish", "Deploy as a Prototype"/)
})

for (const engine of ENGINES) {
  describe(`the config store on ${engine}`, () => {
    let location: TestStore
    let store: ConfigStore
    before(async () => {
      location = freshStore(engine)
      store = await ConfigStore.open(location.url)
    })
    after(async () => {
      await store.close()
      await location.drop()
    })

    test('an API is created CREATED, read back with its ETag, listed, searched and paged', async () => {
      const created = await store.createApi(pizza(), 'alice')
      assert.equal(created.lifecycle, 'CREATED')
      assert.equal(created.etag, 1)
      await store.createApi({ ...pizza(), name: 'Weather', context: '/weather' }, 'alice')
      const read = await store.getApi(created.id)
      assert.equal(read.name, 'PizzaShack')
      assert.equal((read.config.endpoints as { production: { url: string } }).production.url, 'http://127.0.0.1:9/menu')
      const all = await store.listApis()
      assert.deepEqual(all.list.map((api) => api.name), ['PizzaShack', 'Weather'])
      assert.deepEqual((await store.listApis({ query: 'weath' })).list.map((api) => api.name), ['Weather'])
      assert.deepEqual((await store.listApis({ query: 'context:/pizza' })).list.map((api) => api.name), ['PizzaShack'])
      const page = await store.listApis({ limit: 1, offset: 1 })
      assert.deepEqual([page.count, page.pagination.total, page.list[0]!.name], [1, 2, 'Weather'])
    })

    test('an invalid API is refused whole with field paths as portico validate writes them', async () => {
      await assert.rejects(
        store.createApi({ name: 'Bad', context: 'nope', version: '1', endpoints: { production: { type: 'http', url: 'ftp://x' } } }, 'alice'),
        (error: StoreError) => {
          assert.equal(error.kind, 'invalid')
          const paths = error.issues.map((issue) => issue.path)
          assert.ok(paths.includes('context'), paths.join())
          assert.ok(paths.includes('endpoints.production.url'), paths.join())
          return true
        },
      )
      assert.equal((await store.listApis({ query: 'name:Bad' })).count, 0)
    })

    test('two edits from the same read: one wins, the other is stale', async () => {
      const api = (await store.listApis({ query: 'name:Weather' })).list[0]!
      const edit = (url: string) => store.updateApi(api.id, { ...api.config, lifecycle: undefined, endpoints: { production: { type: 'http', url } } }, 'bob', api.etag)
      const results = await Promise.allSettled([edit('http://127.0.0.1:9/a'), edit('http://127.0.0.1:9/b')])
      const rejected = results.filter((result) => result.status === 'rejected')
      assert.equal(rejected.length, 1)
      assert.ok(['stale', 'conflict'].includes(((rejected[0] as PromiseRejectedResult).reason as StoreError).kind))
      assert.equal((await store.getApi(api.id)).etag, api.etag + 1)
    })

    test('lifecycle actions follow the table and leave a history with who and when', async () => {
      const api = (await store.listApis({ query: 'name:PizzaShack' })).list[0]!
      await assert.rejects(store.changeLifecycle(api.id, 'Retire', 'carol'), (error: StoreError) => error.kind === 'conflict' && /not available for an API in state CREATED/.test(error.message))
      for (const action of ['Deploy as a Prototype', 'Publish', 'Block', 'Re-Publish', 'Deprecate', 'Retire']) await store.changeLifecycle(api.id, action, 'carol')
      const history = await store.lifecycleHistory(api.id)
      assert.deepEqual(history.map((entry) => [entry.previousState, entry.postState, entry.action, entry.user]), [
        [null, 'CREATED', 'Create', 'alice'],
        ['CREATED', 'PROTOTYPED', 'Deploy as a Prototype', 'carol'],
        ['PROTOTYPED', 'PUBLISHED', 'Publish', 'carol'],
        ['PUBLISHED', 'BLOCKED', 'Block', 'carol'],
        ['BLOCKED', 'PUBLISHED', 'Re-Publish', 'carol'],
        ['PUBLISHED', 'DEPRECATED', 'Deprecate', 'carol'],
        ['DEPRECATED', 'RETIRED', 'Retire', 'carol'],
      ])
      assert.ok(history.every((entry) => !Number.isNaN(Date.parse(entry.updatedTime))))
      assert.deepEqual((await store.lifecycle(api.id)).availableTransitions, [])
    })

    test('a RETIRED API stays retired when the store is opened again', async () => {
      await store.close()
      store = await ConfigStore.open(location.url)
      const api = (await store.listApis({ query: 'name:PizzaShack' })).list[0]!
      assert.equal(api.lifecycle, 'RETIRED')
      assert.equal(api.config.lifecycle, 'RETIRED')
    })

    test('a deployment commits a config version holding the revision; the audit log redacts secrets', async () => {
      const api = await store.createApi({ ...pizza('v2') }, 'dave')
      await store.changeLifecycle(api.id, 'Publish', 'dave')
      const revision = await store.createRevision(api.id, 'dave', 'first')
      const before = await store.latestVersionNumber()
      const { version } = await store.deploy(api.id, revision.id, 'default', 'dave')
      assert.equal(version, before + 1)
      const latest = (await store.versionFor('default'))!
      assert.equal(latest.version, version)
      const deployed = latest.apis.map((entry) => entry.data()).find((entry) => entry.version === 'v2')!
      assert.equal(deployed.lifecycle, 'PUBLISHED')
      // A later edit does not touch the revision: revisions are immutable.
      const current = await store.getApi(api.id)
      await store.updateApi(api.id, { ...current.config, lifecycle: undefined, endpoints: { production: { type: 'http', url: 'http://127.0.0.1:9/changed' } } }, 'dave')
      assert.equal(((await store.getRevision(api.id, revision.id)).config.endpoints as { production: { url: string } }).production.url, 'http://127.0.0.1:9/menu')
      await assert.rejects(store.deleteApi(api.id, 'dave'), (error: StoreError) => error.kind === 'conflict' && /deployed to default/.test(error.message))
      const log = JSON.stringify(await store.auditLog())
      assert.ok(!log.includes('s3cret'), 'no secret in the audit log')
      assert.match(log, /\[redacted\]/)
      assert.match(log, /api\.deploy/)
    })

    test('a version is written whole and in outline; a node reads it from the revisions, or whole when it must', async () => {
      const apis = []
      for (const name of ['Outline-a', 'Outline-b']) {
        const api = await store.createApi({ name, context: `/${name.toLowerCase()}`, version: 'v1', endpoints: { production: { type: 'http', url: `http://127.0.0.1:9/${name}` } } }, 'erin')
        await store.changeLifecycle(api.id, 'Publish', 'erin')
        await store.deploy(api.id, (await store.createRevision(api.id, 'erin')).id, 'default', 'erin')
        apis.push(api)
      }
      const sandbox = await store.createApi({ name: 'Outline-sandbox', context: '/outline-sandbox', version: 'v1', endpoints: { production: { type: 'http', url: 'http://127.0.0.1:9/sandbox' } } }, 'erin')
      const { version } = await store.deploy(sandbox.id, (await store.createRevision(sandbox.id, 'erin')).id, 'staging', 'erin')
      const row = await store.db.selectFrom('config_versions').selectAll().where('version', '=', version).executeTakeFirstOrThrow()
      // The document, put together from each API's JSON, is what serializing it whole gives.
      const document = JSON.parse(row.document) as { settings: object; deployments: { environment: string; api: Record<string, unknown> }[] }
      assert.equal(row.document, JSON.stringify(document))
      assert.deepEqual(document.deployments.map((entry) => [entry.environment, entry.api.name]).filter(([, name]) => String(name).startsWith('Outline')), [['default', 'Outline-a'], ['default', 'Outline-b'], ['staging', 'Outline-sandbox']])
      const outline = JSON.parse(row.outline!) as { deployments: { environment: string; revision: string; lifecycle: string }[] }
      assert.deepEqual(outline.deployments.map((entry) => entry.environment), document.deployments.map((entry) => entry.environment))
      // A node of each environment reads that environment's APIs, as the document holds them.
      for (const environment of ['default', 'staging']) {
        const read = (await store.versionFor(environment))!
        assert.equal(read.version, version)
        assert.deepEqual(read.apis.map((api) => api.data()), document.deployments.filter((entry) => entry.environment === environment).map((entry) => entry.api))
        assert.deepEqual(read.apis.map((api) => JSON.parse(api.json())), read.apis.map((api) => api.data()))
      }
      assert.equal(await store.versionFor('default', version), undefined, 'nothing newer')
      // Written before outlines existed, or naming a revision deleted since: read from the document.
      const fromOutline = (await store.versionFor('default'))!.apis.map((api) => api.data())
      for (const outlineText of [null, JSON.stringify({ ...outline, deployments: outline.deployments.map((entry) => ({ ...entry, revision: 'deleted-since' })) })]) {
        await store.db.updateTable('config_versions').set({ outline: outlineText }).where('version', '=', version).execute()
        const whole = (await store.versionFor('default'))!
        assert.deepEqual(whole.apis.map((api) => api.data()), fromOutline)
        assert.ok(whole.apis.every((api) => api.key === api.json()), 'keyed by their JSON')
      }
      assert.equal(await store.latestVersionNumber(), version)
    })

    test('admin tokens: the first is created once with every scope and stored hashed', async () => {
      const token = await store.firstToken()
      assert.match(token!, /^portico_/)
      assert.equal(await store.firstToken(), undefined)
      assert.deepEqual((await store.verifyToken(token!))?.scopes, ['view', 'create', 'publish', 'manage', 'subscribe'])
      assert.equal(await store.verifyToken(`${token}x`), undefined)
      const rows = await store.db.selectFrom('admin_tokens').select('hash').execute()
      assert.ok(rows.every((row) => row.hash !== token && !row.hash.includes(token!.slice(8))))
    })
  })
}

test('PRE-RELEASED (WSO2 4.1+) is accepted for PROTOTYPED, in a file applied to the store and in the file schema', async () => {
  const location = freshStore('sqlite')
  const store = await ConfigStore.open(location.url)
  try {
    await store.apply({ apis: [{ ...pizza(), lifecycle: 'PRE-RELEASED', resources: [{ uriTemplate: '/menu' }], endpoints: { production: { type: 'prototype', resources: [{ uriTemplate: '/menu', responses: [{ body: 'soon' }] }] } } }] }, 'test')
    const [api] = (await store.listApis()).list
    assert.equal(api!.lifecycle, 'PROTOTYPED')
    assert.deepEqual((await store.lifecycle(api!.id)).availableTransitions.map((step) => step.event), ['Publish', 'Demote to Created'])
  } finally {
    await store.close()
    await location.drop()
  }
})

test('one default version per API name: making v2 the default takes it from v1', async () => {
  const location = freshStore('sqlite')
  const store = await ConfigStore.open(location.url)
  try {
    const v1 = await store.createApi({ ...pizza('v1'), defaultVersion: true }, 'test')
    const v2 = await store.newVersion(v1.id, 'v2', 'test', true)
    assert.equal(v2.config.defaultVersion, true)
    const after = await store.getApi(v1.id)
    assert.equal(after.config.defaultVersion, false)
    assert.equal(after.etag, v1.etag + 1)
  } finally {
    await store.close()
    await location.drop()
  }
})

for (const engine of ENGINES) {
  test(`on ${engine}: Publish with WSO2's checklist deprecates older versions and carries their subscriptions over unless re-subscription is required`, async () => {
    const location = freshStore(engine)
    const store = await ConfigStore.open(location.url)
    try {
      const v1 = await store.createApi(pizza('v1'), 'test')
      await store.changeLifecycle(v1.id, 'Publish', 'test')
      const app = await store.applications.create({ name: 'web', throttlingPolicy: 'Gold' }, 'test')
      await store.applications.subscribe({ applicationId: app.id, apiId: v1.id, throttlingPolicy: 'Gold' }, 'test')
      const v2 = await store.newVersion(v1.id, 'v2', 'test')
      await store.changeLifecycle(v2.id, 'Publish', 'carol', undefined, { deprecateOldVersions: true })
      assert.equal((await store.getApi(v1.id)).lifecycle, 'DEPRECATED')
      assert.deepEqual((await store.lifecycleHistory(v1.id)).at(-1), { ...(await store.lifecycleHistory(v1.id)).at(-1)!, previousState: 'PUBLISHED', postState: 'DEPRECATED', action: 'Deprecate', user: 'carol' })
      assert.deepEqual((await store.applications.subscriptions({ apiId: v2.id })).map((entry) => [entry.applicationId, entry.throttlingPolicy]), [[app.id, 'Gold']])
      const v3 = await store.newVersion(v2.id, 'v3', 'test')
      await store.changeLifecycle(v3.id, 'Publish', 'carol', undefined, { requireResubscription: true })
      assert.equal((await store.applications.subscriptions({ apiId: v3.id })).length, 0)
      assert.equal((await store.getApi(v2.id)).lifecycle, 'PUBLISHED')
    } finally {
      await store.close()
      await location.drop()
    }
  })
}

test('jsonWithList writes what JSON.stringify writes, from the items\' JSON', () => {
  const items = [{ a: 1 }, { b: ['x', null] }]
  for (const head of [{}, { settings: { listeners: [{ port: 1 }] }, skipped: undefined }, { 'a "quoted" key': 'é\n' }]) {
    assert.equal(jsonWithList(head, 'list', items.map((item) => JSON.stringify(item))), JSON.stringify({ ...head, list: items }))
  }
  assert.equal(jsonWithList({ x: 1 }, 'list', []), JSON.stringify({ x: 1, list: [] }))
})
