import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { parseConfig } from '../src/config/load.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

describe('connection pools shared per origin', () => {
  let backend: TestBackend
  let gateway: TestGateway
  /** The backend-side port of the connection each request came in on: the same port means the same connection. */
  const ports: number[] = []
  const api = (name: string, extra = '') => `
  - name: ${name}
    context: /${name}
    version: v1
    endpoints:
      production: { type: http, url: "${backend.url}/${name}"${extra} }
`
  const config = (...apis: string[]) => `apis:${apis.join('')}`

  before(async () => {
    backend = await startBackend((req, res) => {
      ports.push(req.socket.remotePort!)
      res.end(req.url)
    })
    gateway = await startGateway(config(api('a'), api('b'), api('capped', ', pool: { connections: 1 }')))
  })
  after(async () => {
    await gateway.close()
    await backend.close()
  })

  const get = async (path: string) => {
    const response = await request(`${gateway.url}${path}`)
    return { status: response.statusCode, body: await response.body.text() }
  }

  test('two APIs on one backend origin send over the same pooled connection', async () => {
    assert.deepEqual(await get('/a/v1/x'), { status: 200, body: '/a/x' })
    assert.deepEqual(await get('/b/v1/x'), { status: 200, body: '/b/x' })
    assert.equal(ports.at(-1), ports.at(-2), 'b reused the connection a opened')
  })

  test('an endpoint with its own connection cap keeps its own pool', async () => {
    assert.deepEqual(await get('/capped/v1/x'), { status: 200, body: '/capped/x' })
    assert.ok(!ports.slice(0, -1).includes(ports.at(-1)!), 'the capped endpoint opened a connection of its own')
  })

  test('a reload that removes one of the APIs sharing a pool leaves the others their connection', async () => {
    await get('/a/v1/y')
    const port = ports.at(-1)
    await gateway.instance.gateway.reload({ ...parseConfig(config(api('a'), api('capped', ', pool: { connections: 1 }')), 'next.yaml'), listeners: gateway.instance.gateway.snapshot.config.listeners })
    // The retired endpoint of b is closed once no request runs on the previous snapshot: give that a turn.
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.deepEqual(await get('/a/v1/z'), { status: 200, body: '/a/z' })
    assert.equal(ports.at(-1), port, 'a still sends over the connection it had before b was removed')
    assert.equal((await get('/b/v1/z')).status, 404)
  })
})
