import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { startApache, type Apache } from './support/apache.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const BASIC = { username: 'bob', password: 'pässwörd: mit Ümlauten' }
const DIGEST = { username: 'alice', password: 'Circle of Life' }

describe('backend Basic and Digest authentication against Apache httpd', () => {
  let apache: Apache
  let gateway: TestGateway

  before(async () => {
    apache = await startApache({ basic: BASIC, digest: DIGEST })
    const digest = (area: string, password: string, extra = '', authExtra = '') =>
      `{ type: http, url: "${apache.url}/${area}", security: { auth: { type: digest, username: ${DIGEST.username}, password: "${password}"${authExtra} }${extra} } }`
    const api = (name: string, production: string, sandbox?: string) => `
  - name: ${name}
    context: /${name.toLowerCase()}
    version: v1
    endpoints:
      production: ${production}${sandbox ? `\n      sandbox: ${sandbox}` : ''}`
    gateway = await startGateway(`
apis:${api(
      'Basic',
      `{ type: http, url: "${apache.url}/basic", security: { auth: { type: basic, username: ${BASIC.username}, password: "${BASIC.password}" } } }`,
      `{ type: http, url: "${apache.url}/basic", security: { auth: { type: basic, username: ${BASIC.username}, password: "not it" } } }`,
    )}${api('Digest', digest('digest', DIGEST.password), digest('digest', 'wrong password'))}${api('Upload', digest('digest', DIGEST.password))}${api(
      'Crowd',
      digest('digest', DIGEST.password),
    )}${api('Stale', digest('stale', DIGEST.password))}${api(
      'Soap',
      `{ type: soap, url: "${apache.url}/digest/echo.cgi?svc=calc", security: { auth: { type: digest, username: ${DIGEST.username}, password: "${DIGEST.password}" } } }`,
    )}${api('Big', digest('digest', DIGEST.password, ', replayLimit: 1024'))}${api('Strict', digest('strict', DIGEST.password))}${api(
      'StrictShared',
      digest('strict', DIGEST.password, '', ', sharedNonce: true'),
    )}
`)
  })

  after(async () => {
    await gateway?.close()
    await apache?.close()
  })

  async function call(path: string, options: { method?: 'GET' | 'POST'; body?: string | Readable; sandbox?: boolean; headers?: Record<string, string> } = {}) {
    const response = await request(`${gateway.url}${path}`, {
      method: options.method ?? 'GET',
      body: options.body,
      headers: { ...options.headers, ...(options.sandbox ? { 'x-portico-environment': 'sandbox' } : {}) },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    })
    return { status: response.statusCode, text: await response.body.text() }
  }

  /**
   * The access log's length once Apache has logged every request so far: it logs after sending the response,
   * so the line for a request just answered may still be on its way.
   */
  async function settledMark(): Promise<number> {
    let length = apache.accessLog().length
    for (;;) {
      await sleep(100)
      const now = apache.accessLog().length
      if (now === length) return now
      length = now
    }
  }

  /** The access-log lines Apache wrote since `mark`, once `count` are there and no more follow shortly. */
  async function linesSince(mark: number, count: number): Promise<string[]> {
    const deadline = Date.now() + 3000
    while (apache.accessLog().length < mark + count && Date.now() < deadline) await sleep(20)
    await sleep(150)
    return apache.accessLog().slice(mark)
  }

  test('Basic: the gateway sends the configured user with a UTF-8 password, replacing the client Authorization', async () => {
    const mark = await settledMark()
    const response = await call('/basic/v1/echo.cgi?x=1', { headers: { authorization: 'Basic Y2xpZW50OmNsaWVudA==' } })
    assert.equal(response.status, 200, response.text)
    assert.equal(response.text, 'user=bob method=GET auth=Basic query=x=1\n')
    assert.deepEqual(await linesSince(mark, 1), ['GET /basic/echo.cgi 200'])
  })

  test('Basic: a wrong password is a 502 with the backend 401 reason, after a single request', async () => {
    const mark = await settledMark()
    const response = await call('/basic/v1/echo.cgi', { sandbox: true })
    assert.equal(response.status, 502)
    const body = JSON.parse(response.text)
    assert.equal(body.code, 'BACKEND_AUTH_FAILED')
    assert.match(body.message, /401 Unauthorized: it refused the gateway's Basic credentials/)
    assert.doesNotMatch(response.text, /not it/)
    assert.deepEqual(await linesSince(mark, 1), ['GET /basic/echo.cgi 401'])
  })

  test('Digest: the first request answers the challenge, later ones authenticate pre-emptively', async () => {
    let mark = await settledMark()
    const first = await call('/digest/v1/echo.cgi?page=1')
    assert.equal(first.status, 200, first.text)
    assert.equal(first.text, 'user=alice method=GET auth=Digest query=page=1\n')
    assert.deepEqual(await linesSince(mark, 2), ['GET /digest/echo.cgi 401', 'GET /digest/echo.cgi 200'])
    mark = await settledMark()
    const second = await call('/digest/v1/echo.cgi?page=2')
    assert.equal(second.text, 'user=alice method=GET auth=Digest query=page=2\n')
    assert.deepEqual(await linesSince(mark, 1), ['GET /digest/echo.cgi 200'])
  })

  test('Digest on a SOAP endpoint signs the service URL the request goes to, not the path the client used', async () => {
    const envelope = '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Ping/></soap:Body></soap:Envelope>'
    const response = await call('/soap/v1', { method: 'POST', body: envelope, headers: { 'content-type': 'text/xml', soapaction: '"ping"' } })
    assert.equal(response.status, 200, response.text)
    assert.equal(response.text, `user=alice method=POST auth=Digest query=svc=calc\n${envelope}`)
  })

  test('Digest: a streamed request body is sent again, intact, after the 401 challenge', async () => {
    // Under 64 KiB: mod_cgi writes the whole body to the script before reading its output, so a larger echo would fill the pipe.
    const payload = Buffer.alloc(40_000, 'pizza margherita ').toString()
    const mark = await settledMark()
    const response = await call('/upload/v1/echo.cgi', { method: 'POST', body: Readable.from([payload.slice(0, 1000), payload.slice(1000)]) })
    assert.equal(response.status, 200)
    assert.equal(response.text, `user=alice method=POST auth=Digest query=\n${payload}`)
    assert.deepEqual(await linesSince(mark, 2), ['POST /digest/echo.cgi 401', 'POST /digest/echo.cgi 200'])
  })

  test('Digest: a wrong password is a 502 after exactly one answered challenge, no retry loop', async () => {
    const mark = await settledMark()
    const response = await call('/digest/v1/echo.cgi', { sandbox: true })
    assert.equal(response.status, 502)
    const body = JSON.parse(response.text)
    assert.equal(body.code, 'BACKEND_AUTH_FAILED')
    assert.match(body.message, /401 Unauthorized: it refused the gateway's Digest credentials/)
    assert.deepEqual(await linesSince(mark, 2), ['GET /digest/echo.cgi 401', 'GET /digest/echo.cgi 401'])
  })

  test('Digest: concurrent requests each hold a nonce of their own, and reuse them once answered', async () => {
    await call('/crowd/v1/echo.cgi')
    let mark = await settledMark()
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => call(`/crowd/v1/echo.cgi?n=${i}`)))
    burst.forEach((response, i) => assert.equal(response.text, `user=alice method=GET auth=Digest query=n=${i}\n`))
    const lines = await linesSince(mark, 12)
    const challenged = lines.filter((line) => line.endsWith(' 401')).length
    // At least one request reused the warm-up's nonce; each other one may have asked for a nonce of its own.
    assert.ok(challenged <= 11, `${challenged} challenges`)
    assert.equal(lines.length, 12 + challenged, lines.join(', '))
    for (let i = 0; i < 5; i++) {
      mark = await settledMark()
      assert.equal((await call(`/crowd/v1/echo.cgi?after=${i}`)).status, 200)
      assert.deepEqual(await linesSince(mark, 1), ['GET /digest/echo.cgi 200'], 'an answered nonce serves the next request pre-emptively')
    }
  })

  test('Digest: 50 concurrent requests to a server that checks nonce counts strictly (AuthDigestNcCheck On) all succeed, twice', async () => {
    for (const round of [1, 2]) {
      const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => call(`/strict/v1/echo.cgi?round=${round}&n=${i}`)))
      responses.forEach((response, i) => {
        assert.equal(response.status, 200, response.text)
        assert.equal(response.text, `user=alice method=GET auth=Digest query=round=${round}&n=${i}\n`)
      })
    }
    assert.doesNotMatch(apache.errorLog(), /nonce-count check failed/)
  })

  test('Digest with sharedNonce against strict nonce counts: the refusal names the count order, not the credentials', async () => {
    assert.equal((await call('/strictshared/v1/echo.cgi?warm=1')).status, 200)
    // Whether concurrent requests overtake each other on the way is up to the network and Apache's processes:
    // a busy machine may keep a round in order, so rounds go on until one is not.
    const refused: Array<{ status: number; text: string }> = []
    for (let round = 0; round < 8 && refused.length === 0; round++) {
      const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => call(`/strictshared/v1/echo.cgi?round=${round}&n=${i}`)))
      refused.push(...responses.filter((response) => response.status !== 200))
    }
    assert.ok(refused.length > 0, 'requests sharing a nonce reach Apache out of order and some are refused')
    assert.match(apache.errorLog(), /nonce-count check failed/)
    for (const response of refused) {
      assert.equal(response.status, 502)
      const body = JSON.parse(response.text)
      assert.equal(body.code, 'BACKEND_AUTH_FAILED')
      assert.match(body.message, /nonce counts arrive in order \(as Apache httpd does with AuthDigestNcCheck On\).*sharedNonce to false/)
      assert.doesNotMatch(body.message, /refused the gateway's Digest credentials/)
    }
  })

  test('Digest: an expired nonce (stale=true) is retried with the new nonce', async () => {
    assert.equal((await call('/stale/v1/echo.cgi')).status, 200)
    await sleep(2100)
    const mark = await settledMark()
    const response = await call('/stale/v1/echo.cgi?after=expiry')
    assert.equal(response.status, 200, response.text)
    assert.equal(response.text, 'user=alice method=GET auth=Digest query=after=expiry\n')
    assert.deepEqual(await linesSince(mark, 2), ['GET /stale/echo.cgi 401', 'GET /stale/echo.cgi 200'])
  })

  test('Digest: a body over replayLimit cannot be sent again after a challenge, and says so; once a nonce is known it streams', async () => {
    const payload = 'x'.repeat(10_000)
    const refused = await call('/big/v1/echo.cgi', { method: 'POST', body: Readable.from([payload]) })
    assert.equal(refused.status, 502)
    assert.match(JSON.parse(refused.text).message, /larger than security\.replayLimit \(1024 bytes\)/)
    const streamed = await call('/big/v1/echo.cgi', { method: 'POST', body: Readable.from([payload]) })
    assert.equal(streamed.status, 200, streamed.text)
    assert.equal(streamed.text, `user=alice method=POST auth=Digest query=\n${payload}`)
  })
})

