import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import pg from 'pg'
import { request } from 'undici'
import { ConfigStore, SCOPES } from '../src/store/store.ts'
import { startEchoBackend } from './support/backend.ts'
import { freePort, startCli } from './support/cli.ts'
import { freshStore, POSTGRES } from './support/stores.ts'

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`${what} did not happen within ${timeoutMs} ms`)
}

async function status(url: string): Promise<number> {
  const response = await request(url)
  await response.body.dump()
  return response.statusCode
}

/** Publishes and deploys an API answering at `/NAME/v1` from `url`; returns its id. */
async function publish(store: ConfigStore, name: string, url: string): Promise<string> {
  const api = await store.createApi({ name, context: `/${name}`, version: 'v1', endpoints: { production: { type: 'http', url } } }, 'test')
  await store.changeLifecycle(api.id, 'Publish', 'test')
  await store.deploy(api.id, (await store.createRevision(api.id, 'test')).id, 'default', 'test')
  return api.id
}

test('on PostgreSQL: a node whose listening connection is cut reconnects and catches up; a version it cannot apply leaves it on its last good config', async () => {
  const location = freshStore('postgres')
  const backend = await startEchoBackend('cluster')
  const store = await ConfigStore.open(location.url)
  const [port, adminPort] = [await freePort(), await freePort()]
  const data = mkdtempSync(join(tmpdir(), 'portico-node-'))
  await store.apply({ accessLog: { enabled: false } }, 'test')
  await store.createToken('test', SCOPES, 'test')
  const node = startCli(['start', '--store', location.url, '--port', String(port), '--admin-port', String(adminPort), '--poll', '60', '--data', data])
  const schema = new URL(location.url).searchParams.get('schema')!
  const admin = new pg.Client({ connectionString: POSTGRES })
  await admin.connect()
  try {
    await node.waitForLog('serving config version')
    await publish(store, 'first', backend.url)
    await eventually('the node serves /first', async () => (await status(`http://127.0.0.1:${port}/first/v1/x`)) === 200)

    // Cut the node's listening connection: the poll is a minute away, so only the reconnection can catch up.
    const cut = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1`, [`portico-listen:${schema}`])
    assert.equal(cut.rowCount, 1)
    await publish(store, 'second', backend.url)
    await eventually('the node serves /second after reconnecting', async () => (await status(`http://127.0.0.1:${port}/second/v1/x`)) === 200)
    await node.waitForLog('store connection lost')
    await node.waitForLog('store connection up')

    // The store checks a version with its own environment; the node lacks the variable, refuses, and keeps serving.
    process.env.PORTICO_CLUSTER_TEST_URL = backend.url
    try {
      const api = await store.createApi({ name: 'third', context: '/third', version: 'v1', endpoints: { production: { type: 'http', url: '${env:PORTICO_CLUSTER_TEST_URL}' } } }, 'test')
      await store.changeLifecycle(api.id, 'Publish', 'test')
      const { version } = await store.deploy(api.id, (await store.createRevision(api.id, 'test')).id, 'default', 'test')
      await eventually('the node reports the version it refused', async () => (await store.nodes())[0]?.version === version)
      const [record] = await store.nodes()
      assert.match(record!.error!, /PORTICO_CLUSTER_TEST_URL is not set/)
      assert.equal((await store.deployments(api.id))[0]!.status, 'failed')
      assert.equal(await status(`http://127.0.0.1:${port}/second/v1/x`), 200)
      assert.equal(await status(`http://127.0.0.1:${port}/third/v1/x`), 404)
    } finally {
      delete process.env.PORTICO_CLUSTER_TEST_URL
    }
  } finally {
    await node.stop()
    await admin.end()
    await store.close()
    await backend.close()
    await location.drop()
    rmSync(data, { recursive: true, force: true })
  }
})

test('a node started while its database is unreachable serves its local copy of the last applied config, and says so', async () => {
  const location = freshStore('postgres')
  const backend = await startEchoBackend('offline')
  const store = await ConfigStore.open(location.url)
  const [port, adminPort, nowhere] = [await freePort(), await freePort(), await freePort()]
  const data = mkdtempSync(join(tmpdir(), 'portico-node-'))
  await store.apply({ accessLog: { enabled: false } }, 'test')
  await store.createToken('test', SCOPES, 'test')
  const args = ['--port', String(port), '--admin-port', String(adminPort), '--data', data]
  try {
    const first = startCli(['start', '--store', location.url, ...args])
    try {
      await first.waitForLog('serving config version')
      await publish(store, 'kept', backend.url)
      await eventually('the node serves /kept', async () => (await status(`http://127.0.0.1:${port}/kept/v1/x`)) === 200)
    } finally {
      await first.stop()
    }
    assert.equal(statSync(join(data, 'applied-default.json')).mode & 0o077, 0, 'only the owner reads the copy')
    // The same node, its database now at an address where nothing answers.
    const offline = startCli(['start', '--store', `postgres://postgres@127.0.0.1:${nowhere}/test?schema=nothing_here`, ...args])
    try {
      await offline.waitForLog('serving the local copy of config version')
      await offline.waitForLog('serving config version')
      assert.equal(await status(`http://127.0.0.1:${port}/kept/v1/x`), 200)
      const health = (await (await request(`http://127.0.0.1:${adminPort}/health`)).body.json()) as { store: { connected: boolean; appliedVersion: number } }
      assert.equal(health.store.connected, false)
      assert.ok(health.store.appliedVersion >= 2)
      const answer = await request(`http://127.0.0.1:${adminPort}/api/v1/apis`, { headers: { authorization: 'Bearer portico_x' } })
      assert.equal(answer.statusCode, 503)
      assert.equal(((await answer.body.json()) as { code: string }).code, 'STORE_UNAVAILABLE')
    } finally {
      await offline.stop()
    }
  } finally {
    await store.close()
    await backend.close()
    await location.drop()
    rmSync(data, { recursive: true, force: true })
  }
})

test('three nodes on one PostgreSQL: 20 deployments while traffic runs; no request fails, every node ends on the last version', async () => {
  const location = freshStore('postgres')
  const backends = [await startEchoBackend('blue'), await startEchoBackend('green')]
  const store = await ConfigStore.open(location.url)
  await store.apply({ accessLog: { enabled: false } }, 'test')
  await store.createToken('test', SCOPES, 'test')
  const ports = [await freePort(), await freePort(), await freePort()]
  const nodes = []
  for (const port of ports) nodes.push(startCli(['start', '--store', location.url, '--port', String(port), '--admin-port', String(await freePort()), '--poll', '2']))
  let running = true
  const outcomes = { ok: 0, failed: [] as string[] }
  try {
    await Promise.all(nodes.map((node) => node.waitForLog('serving config version')))
    const id = await publish(store, 'live', backends[0]!.url)
    for (const port of ports) await eventually(`node ${port} serves /live`, async () => (await status(`http://127.0.0.1:${port}/live/v1/x`)) === 200)
    const load = (async () => {
      while (running) {
        await Promise.all(
          ports.map(async (port) => {
            try {
              const code = await status(`http://127.0.0.1:${port}/live/v1/x`)
              if (code === 200) outcomes.ok++
              else outcomes.failed.push(`${port}: ${code}`)
            } catch (error) {
              outcomes.failed.push(`${port}: ${(error as Error).message}`)
            }
          }),
        )
      }
    })()
    let last = 0
    for (let change = 1; change <= 20; change++) {
      const api = await store.getApi(id)
      const { lifecycle: _lifecycle, ...config } = api.config
      await store.updateApi(id, { ...config, endpoints: { production: { type: 'http', url: backends[change % 2]!.url } } }, 'test', api.etag)
      last = (await store.deploy(id, (await store.createRevision(id, 'test')).id, 'default', 'test')).version
    }
    await eventually('every node records the last version', async () => {
      const records = await store.nodes()
      return records.length === 3 && records.every((record) => record.version === last && record.error === null)
    }, 20_000)
    running = false
    await load
    assert.deepEqual(outcomes.failed, [])
    assert.ok(outcomes.ok > 30, `only ${outcomes.ok} requests answered`)
    // The last deployment points at the blue backend (20 is even): every node now sends there.
    const before = backends[0]!.requests.length
    for (const port of ports) assert.equal(await status(`http://127.0.0.1:${port}/live/v1/x`), 200)
    assert.equal(backends[0]!.requests.length, before + 3)
    assert.equal((await store.deployments(id))[0]!.status, 'deployed')
  } finally {
    running = false
    await Promise.all(nodes.map((node) => node.stop()))
    await store.close()
    for (const backend of backends) await backend.close()
    await location.drop()
  }
})
