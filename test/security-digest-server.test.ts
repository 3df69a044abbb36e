import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { parseChallenges } from '../src/security/challenges.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const USER = { username: 'Jäsøn Doe', password: 'Secret, or not?' }
const REALM = 'api@example.org'

interface DigestServerOptions {
  algorithm: string
  /** '' words the challenge as the http-auth package does without qop: `qop=""`, an RFC 2069 server. */
  qop: 'auth' | 'auth-int' | ''
  userhash: boolean
  /** How many requests a nonce serves before the server answers stale=true. */
  nonceUses: number
}

/**
 * The server side of RFC 7616, written out independently of the gateway's client: Apache httpd offers MD5 and
 * qop=auth only, so SHA-256, SHA-512-256, -sess, auth-int and userhash are checked here. It refuses a nonce
 * count it saw before, so concurrent requests must each take their own.
 */
function digestServer(options: DigestServerOptions) {
  const hashName = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }[options.algorithm.replace(/-sess$/, '')]!
  const H = (data: string | Buffer) => createHash(hashName).update(data).digest('hex')
  const nonces = new Map<string, Set<string>>()
  const seen = { challenges: 0, stale: 0, accepted: 0, replayedCounts: 0 }
  const challenge = (res: ServerResponse, stale: boolean) => {
    const nonce = randomBytes(12).toString('base64')
    nonces.set(nonce, new Set())
    seen.challenges++
    if (stale) seen.stale++
    res.writeHead(401, {
      'www-authenticate':
        options.qop === ''
          ? `Digest realm="${REALM}", qop="", nonce="${nonce}", algorithm="${options.algorithm}", stale="${stale}"`
          : `Digest realm="${REALM}", qop="${options.qop}", algorithm=${options.algorithm}, nonce="${nonce}", opaque="op4que"${options.userhash ? ', userhash=true' : ''}${stale ? ', stale=true' : ''}`,
    })
    res.end('unauthorized')
  }
  const handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const credentials = parseChallenges(req.headers.authorization).find((item) => item.scheme === 'digest')?.parameters
    if (!credentials) return challenge(res, false)
    const counts = nonces.get(credentials.nonce ?? '')
    if (!counts) return challenge(res, false)
    if (options.qop === '') {
      // RFC 2069: no qop, nonce count or cnonce in the answer, and the response hashes only HA1, nonce and HA2.
      const rfc2069 =
        credentials.qop === undefined &&
        credentials.nc === undefined &&
        credentials.cnonce === undefined &&
        credentials['username*'] === `UTF-8''${encodeURIComponent(USER.username)}` &&
        credentials.response === H(`${H(`${USER.username}:${REALM}:${USER.password}`)}:${credentials.nonce}:${H(`${req.method}:${req.url}`)}`)
      if (!rfc2069) return challenge(res, false)
      seen.accepted++
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString() }))
    }
    if (counts.has(credentials.nc!)) {
      seen.replayedCounts++
      return challenge(res, false)
    }
    counts.add(credentials.nc!)
    const expectedUser = options.userhash ? H(`${USER.username}:${REALM}`) : USER.username
    const user = credentials.username ?? decodeURIComponent((credentials['username*'] ?? '').replace(/^UTF-8''/i, ''))
    let ha1 = H(`${USER.username}:${REALM}:${USER.password}`)
    if (options.algorithm.endsWith('-sess')) ha1 = H(`${ha1}:${credentials.nonce}:${credentials.cnonce}`)
    const a2 = options.qop === 'auth-int' ? `${req.method}:${req.url}:${H(body)}` : `${req.method}:${req.url}`
    const expected = H(`${ha1}:${credentials.nonce}:${credentials.nc}:${credentials.cnonce}:${options.qop}:${H(a2)}`)
    const valid =
      user === expectedUser &&
      credentials.response === expected &&
      credentials.uri === req.url &&
      credentials.opaque === 'op4que' &&
      credentials.algorithm === options.algorithm &&
      (credentials.userhash === 'true') === options.userhash
    if (!valid) return challenge(res, false)
    if (counts.size > options.nonceUses) {
      nonces.delete(credentials.nonce!)
      return challenge(res, true)
    }
    seen.accepted++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString() }))
  }
  return { handler, seen }
}

describe('Digest against an RFC 7616 server: SHA-256, SHA-512-256-sess, auth-int, userhash, nonce counts', () => {
  const servers = {
    sha256: digestServer({ algorithm: 'SHA-256', qop: 'auth', userhash: false, nonceUses: 1000 }),
    sess: digestServer({ algorithm: 'SHA-512-256-sess', qop: 'auth-int', userhash: true, nonceUses: 3 }),
    md5sess: digestServer({ algorithm: 'MD5-sess', qop: 'auth-int', userhash: false, nonceUses: 1000 }),
    emptyqop: digestServer({ algorithm: 'MD5', qop: '', userhash: false, nonceUses: 1000 }),
  }
  const backends: Record<string, TestBackend> = {}
  let gateway: TestGateway

  before(async () => {
    for (const [name, server] of Object.entries(servers)) backends[name] = await startBackend(server.handler)
    backends.basiconly = await startBackend((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="other", charset="UTF-8"' })
      res.end()
    })
    const api = (name: string) => `
  - name: ${name}
    context: /${name}
    version: v1
    endpoints:
      production: { type: http, url: "${backends[name]!.url}/base", security: { auth: { type: digest, username: "${USER.username}", password: "${USER.password}" } } }`
    gateway = await startGateway(`apis:${[...Object.keys(servers), 'basiconly'].map(api).join('')}\n`)
  })

  after(async () => {
    await gateway?.close()
    for (const backend of Object.values(backends)) await backend.close()
  })

  async function call(path: string, body?: Readable) {
    const response = await request(`${gateway.url}${path}`, { method: body ? 'POST' : 'GET', body, headersTimeout: 10_000, bodyTimeout: 10_000 })
    const text = await response.body.text()
    return { status: response.statusCode, text }
  }

  test('SHA-256 with a non-ASCII user name (username*), and many concurrent requests, each with a nonce of its own', async () => {
    assert.equal((await call('/sha256/v1/warm?x=1')).status, 200)
    const burst = async (round: number) => {
      const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => call(`/sha256/v1/items/${i}?round=${round}`)))
      responses.forEach((response, i) => {
        assert.equal(response.status, 200, response.text)
        assert.equal(JSON.parse(response.text).url, `/base/items/${i}?round=${round}`)
      })
    }
    await burst(1)
    const challenges = servers.sha256.seen.challenges
    assert.ok(challenges <= 41, `at most a challenge per request in flight: ${challenges}`)
    for (let i = 0; i < 10; i++) assert.equal((await call(`/sha256/v1/again/${i}`)).status, 200)
    assert.equal(servers.sha256.seen.challenges, challenges, 'answered nonces serve later requests pre-emptively')
    await burst(2)
    assert.equal(servers.sha256.seen.replayedCounts, 0)
  })

  test('SHA-512-256-sess with auth-int and userhash signs the body, replays it after challenges, and follows stale nonces', async () => {
    for (let i = 0; i < 8; i++) {
      const payload = `{"order":${i},"pizza":"${'quattro formaggi '.repeat(i * 50)}"}`
      const response = await call(`/sess/v1/orders/${i}`, Readable.from([payload.slice(0, 10), payload.slice(10)]))
      assert.equal(response.status, 200, response.text)
      assert.deepEqual(JSON.parse(response.text), { method: 'POST', url: `/base/orders/${i}`, body: payload })
    }
    assert.equal(servers.sess.seen.accepted, 8)
    assert.ok(servers.sess.seen.stale >= 2, `nonces went stale ${servers.sess.seen.stale} times`)
  })

  test('a 401 without a Digest challenge is a 502 naming the schemes the backend offered', async () => {
    const response = await call('/basiconly/v1/x')
    assert.equal(response.status, 502)
    assert.match(JSON.parse(response.text).message, /its 401 carries no Digest challenge the gateway can answer \(schemes offered: basic\)/)
    assert.equal(backends.basiconly!.requests.length, 1)
  })

  test('qop="" (the http-auth package without qop) is RFC 2069: answered without qop, nc or cnonce', async () => {
    const first = await call('/emptyqop/v1/menu?size=large')
    assert.equal(first.status, 200, first.text)
    assert.equal(JSON.parse(first.text).url, '/base/menu?size=large')
    const second = await call('/emptyqop/v1/menu?size=small')
    assert.equal(second.status, 200, second.text)
    assert.deepEqual(servers.emptyqop.seen, { challenges: 1, stale: 0, accepted: 2, replayedCounts: 0 })
  })

  test('MD5-sess with auth-int on a bodiless request hashes the empty body', async () => {
    const response = await call('/md5sess/v1/x')
    assert.equal(response.status, 200, response.text)
  })
})
