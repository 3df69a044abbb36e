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
import { postgresPrograms, startPrivatePostgres } from './support/postgres-server.ts'
import { PublisherClient } from './support/publisher-client.ts'
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

/**
 * Requests to every node, one round after another (a few ms apart) until stopped: each must be a 200 from one of
 * the real backends, by its `x-backend` header.
 */
function loadAll(ports: number[], backends: string[]): { ok: () => number; failed: string[]; stop: () => Promise<void> } {
  let running = true
  let ok = 0
  const failed: string[] = []
  const done = (async () => {
    while (running) {
      await Promise.all(
        ports.map(async (port) => {
          try {
            const response = await request(`http://127.0.0.1:${port}/live/v1/x`)
            await response.body.dump()
            const backend = String(response.headers['x-backend'])
            if (response.statusCode === 200 && backends.includes(backend)) ok++
            else failed.push(`${port}: ${response.statusCode} from ${backend}`)
          } catch (error) {
            failed.push(`${port}: ${(error as Error).message}`)
          }
        }),
      )
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()
  return {
    ok: () => ok,
    failed,
    stop: async () => {
      running = false
      await done
    },
  }
}

/** Which backend a node's `/live/v1` answers from now. */
async function servedBy(port: number): Promise<string> {
  const response = await request(`http://127.0.0.1:${port}/live/v1/x`)
  await response.body.dump()
  return `${response.statusCode} ${String(response.headers['x-backend'])}`
}

test('three nodes on one PostgreSQL: 100 deployments through their publisher APIs while traffic runs; no request fails, every node ends on the last version', async (t) => {
  const location = freshStore('postgres')
  const backends = [await startEchoBackend('blue'), await startEchoBackend('green')]
  const store = await ConfigStore.open(location.url)
  await store.apply({ accessLog: { enabled: false } }, 'test')
  const { token } = await store.createToken('test', SCOPES, 'test')
  const ports = [await freePort(), await freePort(), await freePort()]
  const admins = [await freePort(), await freePort(), await freePort()]
  // A minute between polls: each node follows the deployments by their notifications.
  const nodes = ports.map((port, index) => startCli(['start', '--store', location.url, '--port', String(port), '--admin-port', String(admins[index]), '--poll', '60']))
  const publishers = admins.map((admin) => new PublisherClient(`http://127.0.0.1:${admin}`, token))
  let load: ReturnType<typeof loadAll> | undefined
  try {
    await Promise.all(nodes.map((node) => node.waitForLog('serving config version')))
    const { id } = await publishers[0]!.publish('live', backends[0]!.url)
    for (const port of ports) await eventually(`node ${port} serves /live`, async () => (await servedBy(port)) === '200 blue')
    load = loadAll(ports, ['blue', 'green'])
    const started = Date.now()
    let last = 0
    // Every node is equal: the changes go through each one's publisher API in turn.
    for (let change = 1; change <= 100; change++) last = await publishers[change % 3]!.redeploy(id, backends[change % 2]!.url)
    const deployingMs = Date.now() - started
    await eventually('every node records the last version', async () => {
      const records = await store.nodes()
      return records.length === 3 && records.every((record) => record.version === last && record.error === null)
    }, 20_000)
    await load.stop()
    assert.deepEqual(load.failed, [])
    assert.ok(load.ok() > 100, `only ${load.ok()} requests answered in ${deployingMs} ms`)
    t.diagnostic(`100 deployments in ${deployingMs} ms; ${load.ok()} requests answered meanwhile, none failed`)
    // The last deployment points at the blue backend (100 is even): every node now sends there.
    for (const port of ports) assert.equal(await servedBy(port), '200 blue')
    assert.equal((await store.deployments(id))[0]!.status, 'deployed')
  } finally {
    await load?.stop()
    await Promise.all(nodes.map((node) => node.stop()))
    await store.close()
    for (const backend of backends) await backend.close()
    await location.drop()
  }
})

test('PostgreSQL stopped mid-run: nodes (one with workers) keep serving their last config, say so, and catch up once it is back', async (t) => {
  const programs = postgresPrograms()
  if ('missing' in programs) return t.skip(programs.missing)
  // A server of the test's own: the machine's shared one is not to be stopped.
  const server = await startPrivatePostgres()
  const backends = [await startEchoBackend('blue'), await startEchoBackend('green')]
  const store = await ConfigStore.open(server.url)
  await store.apply({ accessLog: { enabled: false } }, 'test')
  const { token } = await store.createToken('test', SCOPES, 'test')
  const ports = [await freePort(), await freePort(), await freePort()]
  const admins = [await freePort(), await freePort(), await freePort()]
  const data = mkdtempSync(join(tmpdir(), 'portico-node-'))
  // A minute between polls: only the reconnection of a node's listening connection can catch it up this soon.
  const nodes = ports.map((port, index) =>
    startCli(['start', '--store', server.url, '--port', String(port), '--admin-port', String(admins[index]), '--poll', '60', '--data', join(data, String(index)), ...(index === 0 ? ['--workers', '2'] : [])]),
  )
  const publishers = admins.map((admin) => new PublisherClient(`http://127.0.0.1:${admin}`, token))
  /** What a node's `/health` says of its store: connected, and the version it serves. */
  const health = async (admin: number) => {
    const { store } = (await (await request(`http://127.0.0.1:${admin}/health`)).body.json()) as { store: { connected: boolean; appliedVersion: number } }
    return [store.connected, store.appliedVersion]
  }
  let load: ReturnType<typeof loadAll> | undefined
  try {
    await Promise.all(nodes.map((node) => node.waitForLog('serving config version')))
    const { id, version: before } = await publishers[1]!.publish('live', backends[0]!.url)
    for (const port of ports) await eventually(`node ${port} serves /live`, async () => (await servedBy(port)) === '200 blue')
    load = loadAll(ports, ['blue'])

    await server.stop()
    await Promise.all(nodes.map((node) => node.waitForLog('store connection lost')))
    const answeredBefore = load.ok()
    await eventually('the nodes answer while the database is down', async () => load!.ok() > answeredBefore + 60)
    for (const admin of admins) assert.deepEqual(await health(admin), [false, before])
    const refused = await request(`http://127.0.0.1:${admins[0]}/api/v1/apis`, { headers: { authorization: `Bearer ${token}` } })
    assert.deepEqual([refused.statusCode, ((await refused.body.json()) as { code: string }).code], [503, 'STORE_UNAVAILABLE'])

    await server.start()
    await Promise.all(nodes.map((node) => node.waitForLog('store connection up')))
    await load.stop()
    assert.deepEqual(load.failed, [], 'every request answered from the last config while the database was away')
    load = loadAll(ports, ['blue', 'green'])
    const version = await publishers[2]!.redeploy(id, backends[1]!.url)
    for (const port of ports) await eventually(`node ${port} serves the change made after the restart`, async () => (await servedBy(port)) === '200 green')
    await eventually('every node records it', async () => {
      const records = await store.nodes()
      return records.length === 3 && records.every((record) => record.version === version && record.error === null)
    })
    for (const admin of admins) assert.deepEqual(await health(admin), [true, version])
    await load.stop()
    assert.deepEqual(load.failed, [])
  } finally {
    await load?.stop()
    await Promise.all(nodes.map((node) => node.stop()))
    await store.close()
    for (const backend of backends) await backend.close()
    await server.remove()
    rmSync(data, { recursive: true, force: true })
  }
})
