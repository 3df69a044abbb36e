import assert from 'node:assert/strict'
import { createServer as createNetServer, type Server as NetServer } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { rawExchange, statusOf } from './support/raw.ts'

/** A port that nothing listens on: bound once to learn a free number, then released. */
async function closedPort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

describe('backend failures and hostile clients', () => {
  let hanging: TestBackend
  let garbage: NetServer
  let resetting: NetServer
  /** Answers each path with the bytes given for it, then closes the connection. */
  let scripted: NetServer
  let gateway: TestGateway

  before(async () => {
    hanging = await startBackend(() => undefined)
    garbage = createNetServer((socket) => socket.end('this is not http\r\n\r\n'))
    resetting = createNetServer((socket) => socket.once('data', () => socket.resetAndDestroy()))
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', () => resolve()))
    await new Promise<void>((resolve) => resetting.listen(0, '127.0.0.1', () => resolve()))
    const answers: Record<string, string> = {
      '/204-with-body': 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\nhello',
      '/broken-chunk': 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\nzz\r\n',
      // The gateway never sends Expect or Upgrade, so these interim answers are the backend's mistake.
      '/unasked-100': 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok',
      '/unasked-101': 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n',
    }
    scripted = createNetServer((socket) => {
      let head = ''
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1')
        if (!head.includes('\r\n\r\n')) return
        socket.end(answers[head.split(' ')[1]!] ?? 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n')
      })
    })
    await new Promise<void>((resolve) => scripted.listen(0, '127.0.0.1', () => resolve()))
    const port = (server: NetServer) => (server.address() as { port: number }).port
    gateway = await startGateway(`
limits: { maxHeaders: 20, maxHeaderBytes: 4096, headersTimeout: 500ms, requestTimeout: 2s }
apis:
  - name: down
    context: /down
    version: v1
    endpoints: { production: { type: http, url: "http://127.0.0.1:${await closedPort()}" } }
  - name: slow
    context: /slow
    version: v1
    endpoints: { production: { type: http, url: "${hanging.url}", timeouts: { response: 300ms } } }
  - name: garbage
    context: /garbage
    version: v1
    endpoints: { production: { type: http, url: "http://127.0.0.1:${port(garbage)}" } }
  - name: reset
    context: /reset
    version: v1
    endpoints: { production: { type: http, url: "http://127.0.0.1:${port(resetting)}" } }
  - name: scripted
    context: /scripted
    version: v1
    endpoints: { production: { type: http, url: "http://127.0.0.1:${port(scripted)}" } }
  - name: interim
    context: /interim
    version: v1
    endpoints: { production: { type: http, url: "http://127.0.0.1:${port(scripted)}" } }
  - name: unresolvable
    context: /dns
    version: v1
    endpoints: { production: { type: http, url: "http://no-such-host.invalid" } }
`)
  })
  after(async () => {
    await gateway.close()
    await hanging.close()
    garbage.close()
    resetting.close()
    scripted.close()
  })

  async function call(path: string) {
    const response = await request(`${gateway.url}${path}`)
    const body = (await response.body.json()) as { code: string; message: string; requestId: string }
    return { ...body, status: response.statusCode, headerRequestId: response.headers['x-request-id'] }
  }

  test('an unreachable backend is 502 BACKEND_UNREACHABLE naming the endpoint and the failure kind', async () => {
    const response = await call('/down/v1/x')
    assert.equal(response.status, 502)
    assert.equal(response.code, 'BACKEND_UNREACHABLE')
    assert.match(response.message, /down:v1:production: connect-refused/)
    assert.equal(response.requestId, response.headerRequestId)
  })

  test('a backend that does not answer within the response timeout is 504 BACKEND_TIMEOUT', async () => {
    const started = Date.now()
    const response = await call('/slow/v1/x')
    assert.equal(response.status, 504)
    assert.equal(response.code, 'BACKEND_TIMEOUT')
    assert.match(response.message, /read-timeout/)
    assert.ok(Date.now() - started < 3000)
  })

  test('a backend that speaks garbage is 502 BACKEND_BAD_RESPONSE; one that resets is 502 BACKEND_CONNECTION_CLOSED', async () => {
    const bad = await call('/garbage/v1/x')
    assert.equal(bad.status, 502)
    assert.equal(bad.code, 'BACKEND_BAD_RESPONSE')
    const reset = await call('/reset/v1/x')
    assert.equal(reset.status, 502)
    assert.equal(reset.code, 'BACKEND_CONNECTION_CLOSED')
  })

  test('a 100 Continue or a 101 the gateway did not ask for is 502 BACKEND_BAD_RESPONSE of kind protocol, not a closed connection', async () => {
    for (const path of ['/interim/v1/unasked-100', '/interim/v1/unasked-101']) {
      const response = await call(path)
      assert.equal(response.status, 502, path)
      assert.equal(response.code, 'BACKEND_BAD_RESPONSE', path)
      assert.match(response.message, /interim:v1:production: protocol\)/, path)
    }
  })

  test('a 204 whose backend sends bytes after it reaches the client as a 204 without a body', async () => {
    const response = await request(`${gateway.url}/scripted/v1/204-with-body`)
    assert.equal(response.statusCode, 204)
    assert.equal(await response.body.text(), '')
  })

  test('a body that breaks after the headers went out cuts the client off and is counted as the 502 it is, not a 499', async () => {
    const response = await request(`${gateway.url}/scripted/v1/broken-chunk`)
    assert.equal(response.statusCode, 200, 'the headers were on their way before the body broke')
    await assert.rejects(response.body.text())
    let metrics = ''
    for (let tries = 0; tries < 50 && !/api="scripted:v1"[^\n]*status="502"/.test(metrics); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
    }
    assert.match(metrics, /portico_requests_total\{[^}]*api="scripted:v1"[^}]*status="502"[^}]*\} 1/)
    assert.doesNotMatch(metrics, /api="scripted:v1"[^}]*status="499"/)
  })

  test('a host name that does not resolve is 502 BACKEND_UNREACHABLE of kind dns', async () => {
    const response = await call('/dns/v1/x')
    assert.equal(response.status, 502)
    assert.match(response.message, /: dns\)/)
  })

  test('too many header fields is 431, and the gateway keeps serving', async () => {
    const flood = Array.from({ length: 40 }, (_, i) => `x-h${i}: ${i}\r\n`).join('')
    const response = await rawExchange(gateway.url, `GET /down/v1/x HTTP/1.1\r\nhost: x\r\n${flood}connection: close\r\n\r\n`)
    assert.equal(statusOf(response), 431)
    assert.match(response, /"code":"HEADERS_TOO_LARGE"/)
    assert.equal((await call('/nowhere')).status, 404)
  })

  test('headers over maxHeaderBytes are 431; malformed request lines are 400 with a JSON body', async () => {
    const big = await rawExchange(gateway.url, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(8000)}\r\n\r\n`)
    assert.equal(statusOf(big), 431)
    const malformed = await rawExchange(gateway.url, 'GARBAGE\r\n\r\n')
    assert.equal(statusOf(malformed), 400)
    assert.match(malformed, /"code":"BAD_REQUEST"/)
    assert.match(malformed, /^HTTP\/1\.1 400 Bad Request\r\n/, 'the standard reason phrase, as the pipeline sends')
    assert.match(malformed, /\r\ncache-control: no-store\r\n/)
    const badHeader = await rawExchange(gateway.url, 'GET / HTTP/1.1\r\nhost: x\r\nbad header: y\r\n\r\n')
    assert.equal(statusOf(badHeader), 400)
  })

  test('a slowloris client that never finishes its headers is cut off after headersTimeout', async () => {
    const started = Date.now()
    const response = await rawExchange(gateway.url, 'GET /down/v1/x HTTP/1.1\r\nhost: x\r\nx-slow: ', 5000)
    const elapsed = Date.now() - started
    assert.ok(elapsed < 4000, `took ${elapsed} ms`)
    assert.ok(response === '' || statusOf(response) === 408, response)
  })

  test('requests with absolute-form or asterisk targets are refused with 400, not proxied', async () => {
    const absolute = await rawExchange(gateway.url, 'GET http://evil.example/down/v1/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
    assert.equal(statusOf(absolute), 400)
    const asterisk = await rawExchange(gateway.url, 'OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
    assert.equal(statusOf(asterisk), 400)
  })

  test('a fragment in the path or the query is refused with 400, not passed to the backend as part of either', async () => {
    for (const target of ['/interim/v1/x#frag', '/interim/v1/x?a=1#frag']) {
      const response = await rawExchange(gateway.url, `GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
      assert.equal(statusOf(response), 400, target)
      assert.match(response, /"message":"The request target must not have a fragment \(\\"#\\"\)"/, target)
    }
  })

  test('smuggling shapes, a missing, repeated or invalid Host, TRACE and CONNECT are refused with JSON errors', async () => {
    const body = (response: string) => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as { code: string }
    const smuggled = await rawExchange(gateway.url, 'POST /down/v1/x HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n')
    assert.equal(statusOf(smuggled), 400)
    const twoLengths = await rawExchange(gateway.url, 'POST /down/v1/x HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\ncontent-length: 5\r\n\r\nabcd')
    assert.equal(statusOf(twoLengths), 400)
    const noHost = await rawExchange(gateway.url, 'GET /down/v1/x HTTP/1.1\r\nconnection: close\r\n\r\n')
    assert.equal(statusOf(noHost), 400)
    assert.equal(body(noHost).code, 'BAD_REQUEST')
    // RFC 9112 section 3.2: two Host lines, or one that is no host, are 400 too; the gateway does not pick one.
    for (const hosts of ['host: a.example\r\nhost: b.example', 'host: a.example, b.example', 'host: a b', 'host: evil.example/path']) {
      const response = await rawExchange(gateway.url, `GET /down/v1/x HTTP/1.1\r\n${hosts}\r\nconnection: close\r\n\r\n`)
      assert.equal(statusOf(response), 400, hosts)
      assert.match(body(response).code, /^BAD_REQUEST$/)
    }
    for (const host of ['api.example:8280', '[::1]:8280', '127.0.0.1', 'xn--bcher-kva.example']) {
      const response = await rawExchange(gateway.url, `GET /nowhere HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`)
      assert.equal(statusOf(response), 404, `${host} is a valid Host`)
    }
    const trace = await rawExchange(gateway.url, 'TRACE /down/v1/x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
    assert.equal(statusOf(trace), 405)
    assert.match(trace, /\r\nallow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n/i)
    const tunnel = await rawExchange(gateway.url, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: 127.0.0.1:22\r\n\r\n')
    assert.equal(statusOf(tunnel), 405)
    assert.equal(body(tunnel).code, 'METHOD_NOT_ALLOWED')
  })
})
