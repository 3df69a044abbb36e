import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { startNginx, type Nginx } from './support/nginx.ts'
import { rawExchange, statusOf } from './support/raw.ts'

describe('hostile paths', () => {
  let nginx: Nginx
  let echo: TestBackend
  let gateway: TestGateway

  before(async () => {
    // nginx decodes a path before it resolves it, as most file servers do: `..%2f` climbs a directory there.
    nginx = await startNginx({ 'files/public/ok.txt': 'public file\n', 'files/secret.txt': 'secret file\n' })
    echo = await startEchoBackend()
    gateway = await startGateway(`
apis:
  - name: static
    context: /static
    version: v1
    resources:
      - uriTemplate: /*
        methods: [GET]
    endpoints:
      production: { type: http, url: "${nginx.url}/files/public" }
  - name: echo
    context: /echo
    version: v1
    inSequence:
      - setTarget: "${echo.url}/base"
    resources:
      - uriTemplate: /*
    endpoints:
      production: { type: dynamic, allow: [{ host: 127.0.0.1, ports: [${echo.port}] }] }
`)
  })
  after(async () => {
    await gateway.close()
    await echo.close()
    await nginx.close()
  })

  async function rawGet(path: string): Promise<string> {
    return rawExchange(gateway.url, `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
  }

  test('nginx behind a base URL serves the public file, and would serve the secret to an encoded dot segment', async () => {
    const ok = await request(`${gateway.url}/static/v1/ok.txt`)
    assert.equal(ok.statusCode, 200)
    assert.equal(await ok.body.text(), 'public file\n')
    // Straight to nginx: this is what a gateway that forwarded the path unchanged would have exposed.
    const direct = await rawExchange(nginx.url, 'GET /files/public/..%2fsecret.txt HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')
    assert.match(direct, /secret file/)
  })

  test('encoded dot segments and encoded or plain backslashes never escape a base URL: 400 for every form', async () => {
    const forms = [
      '/static/v1/..%2fsecret.txt',
      '/static/v1/..%2F..%2Fetc/passwd',
      '/static/v1/%2e%2e%2fsecret.txt',
      '/static/v1/.%2e/secret.txt',
      '/static/v1/%2E./secret.txt',
      '/static/v1/..%5csecret.txt',
      '/static/v1/..\\secret.txt',
      '/static/v1/sub%5c..%5c..%5csecret.txt',
      '/static/v1/..;/secret.txt',
      '/static/v1/a/.%2fok.txt',
      '/static/v1/%2e',
    ]
    for (const path of forms) {
      const response = await rawGet(path)
      assert.equal(statusOf(response), 400, path)
      assert.match(response, /"code":"BAD_REQUEST"/, path)
      assert.doesNotMatch(response, /secret file/, path)
    }
  })

  test('a dynamic endpoint gets the same check: nothing reaches its backend', async () => {
    const before = echo.requests.length
    for (const path of ['/echo/v1/..%2fadmin', '/echo/v1/x/%2e%2e%5cadmin', '/echo/v1/x/..;/admin']) {
      assert.equal(statusOf(await rawGet(path)), 400, path)
    }
    assert.equal(echo.requests.length, before)
  })

  test('invalid percent-encoding and %00 are 400 from the gateway itself, as nginx answers them', async () => {
    const before = echo.requests.length
    for (const rest of ['/%zz', '/ok.txt%', '/%4', '/ok%00.txt', '/%G1']) {
      const response = await rawGet(`/echo/v1${rest}`)
      assert.equal(statusOf(response), 400, rest)
      assert.match(response, /"code":"BAD_REQUEST"/, rest)
      const direct = await rawExchange(nginx.url, `GET /files/public${rest} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`)
      assert.equal(statusOf(direct), 400, `nginx: ${rest}`)
    }
    assert.equal(echo.requests.length, before, 'no request reached the backend')
  })

  test('an encoded slash that climbs nowhere, and dots inside a name, still pass', async () => {
    const before = echo.requests.length
    const response = await request(`${gateway.url}/echo/v1/repos/a%2Fb/..x/v1.2..3/.well-known`)
    assert.equal(response.statusCode, 200)
    assert.equal((await response.body.json() as { url: string }).url, '/base/repos/a%2Fb/..x/v1.2..3/.well-known')
    assert.equal(echo.requests.length, before + 1)
  })
})
