import assert from 'node:assert/strict'
import { createServer, type AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Agent, request } from 'undici'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

// Connection churn (issue 19): under load that stays within a client's concurrency, the gateway keeps reusing its
// keep-alive connections to the backend, whatever path the response takes through it. Counted by the backend
// itself ('connection' events); no timing is asserted.
const LARGE = Buffer.alloc(64 * 1024, 'a')

describe('connections to the backend are reused', () => {
  let backend: TestBackend
  let gateway: TestGateway
  let opened = 0

  before(async () => {
    backend = await startBackend((req, res, body) => {
      const path = req.url!.split('?')[0]
      if (path === '/empty') {
        res.writeHead(204)
        return res.end()
      }
      if (path === '/broken') {
        res.writeHead(500, { 'content-type': 'text/plain' })
        return res.end('backend failure')
      }
      const answer = path === '/large' ? LARGE : Buffer.from(req.method === 'POST' ? `got ${body.length} bytes` : 'x'.repeat(100))
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(answer.length) })
      res.end(req.method === 'HEAD' ? undefined : answer)
    })
    backend.server.on('connection', () => opened++)
    gateway = await startGateway(`
apis:
  - name: Reuse
    context: /reuse
    version: 1.0.0
    resources: [{ uriTemplate: /*, methods: [GET, HEAD, POST] }]
    endpoints:
      production: { type: http, url: "${backend.url}" }
`)
  })

  after(async () => {
    await gateway.close()
    await backend.close()
  })

  /** Sends `count` requests through the gateway, at most `concurrency` at a time, each on a client connection of its own worker. */
  async function burst(count: number, concurrency: number, method: 'GET' | 'HEAD' | 'POST', path: string, expected: number): Promise<void> {
    const client = new Agent({ connections: concurrency })
    let next = 0
    try {
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next++ < count) {
            const body = method === 'POST' ? 'p'.repeat(4096) : undefined
            const response = await request(`${gateway.url}/reuse/1.0.0${path}`, { method, body, dispatcher: client })
            await response.body.arrayBuffer()
            assert.equal(response.statusCode, expected, `${method} ${path}`)
          }
        }),
      )
    } finally {
      await client.close()
    }
  }

  test('sequential requests share one connection; 200 at a time of 10 open at most 10, whatever the answer', async () => {
    await burst(20, 1, 'GET', '/small', 200)
    assert.equal(opened, 1, 'twenty requests one after another use one connection')
    await burst(200, 10, 'GET', '/small', 200)
    await burst(200, 10, 'GET', '/large', 200)
    await burst(200, 10, 'POST', '/upload', 200)
    await burst(200, 10, 'GET', '/empty', 204)
    await burst(200, 10, 'GET', '/broken', 500)
    await burst(20, 1, 'GET', '/small', 200)
    assert.ok(opened <= 10, `1,040 requests, never more than 10 at a time, opened ${opened} connections to the backend`)
    assert.equal(backend.requests.length, 1040, 'every request reached the backend')
  })

  test('HEAD requests keep the connection when the backend answers Connection: keep-alive', async () => {
    const before = opened
    await burst(200, 10, 'HEAD', '/small', 200)
    await burst(20, 1, 'HEAD', '/small', 200)
    await burst(20, 1, 'GET', '/small', 200)
    // The connections the first test left open serve these; a pool that closed after each HEAD opened ~200.
    assert.ok(opened <= 10, `220 HEADs, never more than 10 at a time, took the backend to ${opened} connections (${opened - before} new)`)
    const head = backend.requests.find((r) => r.method === 'HEAD')
    assert.equal(head?.headers.connection, 'keep-alive', 'the HEAD asked the backend to keep the connection')
  })

  test('a backend that sends a body after a HEAD anyway does not corrupt the next answer on its connection', async () => {
    // Raw TCP: every answer has a 5-byte body and says keep-alive, HEAD included, as a broken server might.
    let connections = 0
    const broken = createServer((socket) => {
      connections++
      let pending = ''
      socket.on('error', () => {})
      socket.on('data', (chunk) => {
        pending += chunk.toString('latin1')
        for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
          const method = pending.slice(0, pending.indexOf(' '))
          pending = pending.slice(end + 4)
          socket.write(`HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\nx-method: ${method}\r\n\r\nhello`)
        }
      })
    })
    await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve))
    const brokenGateway = await startGateway(`
apis:
  - name: Broken
    context: /broken
    version: 1.0.0
    resources: [{ uriTemplate: /*, methods: [GET, HEAD] }]
    endpoints:
      production: { type: http, url: "http://127.0.0.1:${(broken.address() as AddressInfo).port}" }
`)
    try {
      for (const method of ['HEAD', 'GET', 'HEAD', 'GET'] as const) {
        const response = await request(`${brokenGateway.url}/broken/1.0.0/x`, { method })
        const text = await response.body.text()
        assert.equal(response.statusCode, 200, method)
        assert.equal(response.headers['x-method'], method, 'each answer is the one to its own request')
        assert.equal(text, method === 'HEAD' ? '' : 'hello')
      }
      // The stray bytes after each HEAD make undici drop that connection, so each GET came on a new one.
      assert.equal(connections, 3)
    } finally {
      await brokenGateway.close()
      broken.close()
    }
  })
})
