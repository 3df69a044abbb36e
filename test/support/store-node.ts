import { request } from 'undici'
import { serveFromStore } from '../../src/process/store-node.ts'
import { ConfigStore, SCOPES } from '../../src/store/store.ts'
import { createLogger } from '../../src/telemetry/logger.ts'
import { freePort } from './net.ts'
import { freshStore, type TestStore } from './stores.ts'

/** A node serving a fresh store in this process, with an all-scopes token and a view-only one. */
export interface TestStoreNode {
  location: TestStore
  store: ConfigStore
  node: Awaited<ReturnType<typeof serveFromStore>>
  /** The admin port's base URL. */
  admin: string
  /** The node's listener. */
  gateway: string
  token: string
  viewer: string
  /** The publisher API answering `method path`: status, headers and body as JSON, never a throw on a status. */
  call(method: string, path: string, options?: { body?: unknown; token?: string | null; headers?: Record<string, string> }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any; text: string }>
  close(): Promise<void>
}

/** `settings`: more of the store's settings (listeners and admin port are chosen here); `nodeId`: the node's name in `/nodes`. */
export async function startStoreNode(engine: 'sqlite' | 'postgres', options: { settings?: Record<string, unknown>; tokenName?: string; nodeId?: string } = {}): Promise<TestStoreNode> {
  const { settings = {}, tokenName = 'test', nodeId = 'node-a' } = options
  const location = freshStore(engine)
  const store = await ConfigStore.open(location.url)
  const [port, adminPort] = [await freePort(), await freePort()]
  await store.apply({ listeners: [{ port, host: '127.0.0.1' }], admin: { port: adminPort }, accessLog: { enabled: false }, ...settings }, 'test')
  const token = (await store.createToken(tokenName, SCOPES, 'test')).token
  const viewer = (await store.createToken('viewer', ['view'], 'test')).token
  const node = await serveFromStore(location.url, { environment: 'default', pollMs: 500, nodeId }, createLogger('silent'))
  const admin = node.adminUrl!
  return {
    location,
    store,
    node,
    admin,
    gateway: `http://127.0.0.1:${port}`,
    token,
    viewer,
    async call(method, path, options = {}) {
      const auth = options.token === null ? {} : { authorization: `Bearer ${options.token ?? token}` }
      const response = await request(`${admin}/api/v1${path}`, {
        method: method as 'GET',
        headers: { ...auth, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      })
      const text = await response.body.text()
      return { status: response.statusCode, headers: response.headers, body: text ? JSON.parse(text) : undefined, text }
    },
    async close() {
      await node.stop()
      await store.close()
      await location.drop()
    },
  }
}
