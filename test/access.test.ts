import assert from 'node:assert/strict'
import { createHash, createPublicKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { SignJWT, type JWTPayload } from 'jose'
import { request } from 'undici'
import { hashPassword } from '../src/access/basic.ts'
import { parseConfig } from '../src/config/load.ts'
import { signingKey, startAuthorizationServer, type AuthorizationServer } from './support/authorization-server.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const ORDERS = 'https://orders.example'
const OPAQUE = 'https://opaque.example'
const OTHER = 'https://other.example'
const PROD_APP = { id: 'prod-app', secret: 'prod-secret' }
const SANDBOX_APP = { id: 'sandbox-app', secret: 'sandbox-secret' }
const READER = { id: 'reader', secret: 'reader-secret' }
const PROD_KEY = 'pk-3f9a0c1e-production'
const SANDBOX_KEY = 'sk-77e1b2d4-sandbox'
const EXPIRED_KEY = 'xk-old-key'
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')

describe('consumer authentication against oidc-provider', () => {
  let auth: AuthorizationServer
  let backend: TestBackend
  let gateway: TestGateway
  let logDir: string
  /** Stands for the WSO2 gateway key that signs API-key JWTs. */
  let wso2Key: Awaited<ReturnType<typeof signingKey>>

  before(async () => {
    auth = await startAuthorizationServer({
      clients: [
        { ...PROD_APP, scope: 'orders:read orders:write', keytype: 'PRODUCTION' },
        { ...SANDBOX_APP, scope: 'orders:read orders:write', keytype: 'SANDBOX' },
        { ...READER, scope: 'orders:read', keytype: 'PRODUCTION' },
      ],
      resources: {
        [ORDERS]: { format: 'jwt', ttl: 300, scope: 'orders:read orders:write' },
        [OPAQUE]: { format: 'opaque', ttl: 300, scope: 'orders:read orders:write' },
        [OTHER]: { format: 'jwt', ttl: 300, scope: 'orders:read' },
      },
    })
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ url: req.url, headers: req.headers }))
    })
    wso2Key = await signingKey('gateway_certificate_alias')
    const wso2KeyPem = createPublicKey({ key: wso2Key.publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString().trim().replaceAll('\n', '\\n')
    logDir = mkdtempSync(join(tmpdir(), 'portico-access-'))
    const users = `[{ username: carol, passwordHash: "${await hashPassword('hunter2')}", application: carols-app }]`
    const endpoints = `{ production: { type: http, url: "${backend.url}/prod" }, sandbox: { type: http, url: "${backend.url}/sandbox" } }`
    gateway = await startGateway(`
accessLog: { path: ${join(logDir, 'access.log')} }
apis:
  - name: Orders
    context: /orders
    version: v1
    security:
      oauth2:
        jwt: { issuer: "${auth.issuer}", audience: "${ORDERS}", jwksUrl: "${auth.issuer}/jwks", jwksCooldown: 200ms }
      apiKey:
        keys:
          - { sha256: "${sha256(PROD_KEY)}", application: shop-web, keyType: PRODUCTION }
          - { sha256: "${sha256(SANDBOX_KEY)}", application: shop-web, keyType: SANDBOX }
          - { sha256: "${sha256(EXPIRED_KEY)}", application: old-app, expires: "2020-01-01T00:00:00Z" }
      basicAuth: { users: ${users} }
      consumerHeader: { name: x-consumer, claims: [subject, application, keyType, client_id] }
    cors: { origins: ["https://shop.example"], credentials: true, maxAge: 10m }
    resources:
      - { uriTemplate: /orders, methods: [GET] }
      - { uriTemplate: /orders, methods: [POST], scopes: ["orders:write"] }
      - { uriTemplate: /health, security: [] }
      - { uriTemplate: /public, authType: None }
      - uriTemplate: /whoami
        inSequence:
          - property: { name: who, expression: "consumer.subject + ' via ' + consumer.application + ' (' + consumer.keyType + ')'" }
          - respond: { status: 200, body: "{who}" }
    endpoints: ${endpoints}
  - name: Opaque
    context: /opaque
    version: v1
    security:
      oauth2:
        introspection: { url: "${auth.issuer}/token/introspection", clientId: ${PROD_APP.id}, clientSecret: ${PROD_APP.secret} }
    endpoints: ${endpoints}
  - name: QueryKey
    context: /query
    version: v1
    security:
      apiKey: { in: query, name: api_key, keys: [{ sha256: "${sha256(PROD_KEY)}", application: shop-web }] }
    endpoints: ${endpoints}
  - name: Pinned
    context: /pinned
    version: v1
    security:
      oauth2:
        jwt: { issuer: "${auth.issuer}", audience: "${ORDERS}", keys: ['${JSON.stringify(auth.signingKey().publicJwk)}'] }
      apiKey:
        jwt: { keys: ["${wso2KeyPem}"] }
    endpoints: ${endpoints}
  - name: Strict
    context: /strict
    version: v1
    security:
      oauth2:
        jwt: { issuer: "${auth.issuer}", audience: "${ORDERS}", jwksUrl: "${auth.issuer}/jwks", clockSkew: 0s }
      passCredential: true
    endpoints: ${endpoints}
  - name: Open
    context: /open
    version: v1
    endpoints: ${endpoints}
`)
  })

  after(async () => {
    await gateway?.close()
    await backend?.close()
    await auth?.close()
    rmSync(logDir, { recursive: true, force: true })
  })

  async function call(path: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' | 'OPTIONS' = 'GET') {
    const response = await request(`${gateway.url}${path}`, { method, headers, headersTimeout: 10_000, bodyTimeout: 10_000 })
    const text = await response.body.text()
    return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) as { url: string; headers: Record<string, string>; code?: string; message?: string } }
  }
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

  /** Asserts the request was refused with 401 invalid_token and never reached the backend. */
  async function refused(token: string, description: RegExp) {
    const before = backend.requests.length
    const response = await call('/orders/v1/orders', bearer(token))
    assert.equal(response.status, 401, response.text)
    assert.equal(response.json().code, 'INVALID_CREDENTIALS')
    const challenge = String(response.headers['www-authenticate'])
    assert.match(challenge, /Bearer realm="portico", error="invalid_token", error_description="[^"]+"/)
    assert.match(challenge, description)
    assert.ok(!response.text.includes(token), 'the error body quotes the token')
    assert.equal(backend.requests.length, before, 'a refused token reached the backend')
  }

  test('a JWT access token from the authorization server reaches production; its key type chooses, not the header', async () => {
    const token = await auth.token(PROD_APP, ORDERS, 'orders:read')
    const response = await call('/orders/v1/orders', { ...bearer(token), 'x-portico-environment': 'sandbox' })
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().url, '/prod/orders')
  })

  test('a sandbox application\'s token (keytype SANDBOX) reaches the sandbox endpoint', async () => {
    const token = await auth.token(SANDBOX_APP, ORDERS, 'orders:read')
    const response = await call('/orders/v1/orders', bearer(token))
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().url, '/sandbox/orders')
  })

  test('a JWT verified with a public key given in the config (JWK), no JWKS URL; after a rotation only a reload would add the new key', async () => {
    const token = await auth.token(SANDBOX_APP, ORDERS, 'orders:read')
    const response = await call('/pinned/v1/x', bearer(token))
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().url, '/sandbox/x')
  })

  test('the backend gets the chosen claims in x-consumer and never the consumer\'s Authorization; a forged x-consumer is dropped', async () => {
    const token = await auth.token(PROD_APP, ORDERS, 'orders:read')
    const forged = Buffer.from(JSON.stringify({ subject: 'admin' })).toString('base64url')
    const response = await call('/orders/v1/orders', { ...bearer(token), 'x-consumer': forged })
    const seen = response.json().headers
    assert.equal(seen.authorization, undefined)
    const consumer = JSON.parse(Buffer.from(seen['x-consumer']!, 'base64url').toString()) as Record<string, unknown>
    assert.deepEqual(consumer, { subject: PROD_APP.id, application: PROD_APP.id, keyType: 'PRODUCTION', client_id: PROD_APP.id })
  })

  test('no credential: 401 MISSING_CREDENTIALS with a challenge per scheme and no error code (RFC 6750 3.1)', async () => {
    const before = backend.requests.length
    const response = await call('/orders/v1/orders')
    assert.equal(response.status, 401)
    assert.equal(response.json().code, 'MISSING_CREDENTIALS')
    const challenges = response.headers['www-authenticate'] as string[]
    assert.ok(challenges.includes('Bearer realm="portico"'), String(challenges))
    assert.ok(challenges.some((value) => value.startsWith('Basic realm="portico"')))
    assert.equal(backend.requests.length, before)
  })

  test('a token without the resource\'s scope: 403 INSUFFICIENT_SCOPE with error="insufficient_scope"', async () => {
    const token = await auth.token(READER, ORDERS, 'orders:read')
    const before = backend.requests.length
    const response = await call('/orders/v1/orders', bearer(token), 'POST')
    assert.equal(response.status, 403, response.text)
    assert.equal(response.json().code, 'INSUFFICIENT_SCOPE')
    assert.match(String(response.headers['www-authenticate']), /error="insufficient_scope".*scope="orders:write"/)
    assert.equal(backend.requests.length, before)
    const writer = await auth.token(PROD_APP, ORDERS, 'orders:read orders:write')
    assert.equal((await call('/orders/v1/orders', bearer(writer), 'POST')).status, 200)
  })

  describe('forged tokens are each refused before the backend', () => {
    const claims = (): JWTPayload => ({ iss: auth.issuer, aud: ORDERS, sub: 'mallory', client_id: 'prod-app', scope: 'orders:read orders:write', keytype: 'PRODUCTION' })
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')

    test('alg none', async () => {
      const token = `${b64({ alg: 'none', typ: 'at+jwt', kid: 'key-1' })}.${b64({ ...claims(), exp: Math.floor(Date.now() / 1000) + 300 })}.`
      await refused(token, /malformed|signature|algorithm/)
    })

    test('HS256 signed with the server\'s RSA public key as the secret', async () => {
      const pem = createPublicKey({ key: auth.signingKey().publicJwk as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' })
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: auth.signingKey().kid }).setExpirationTime('5m').sign(Buffer.from(pem))
      await refused(token, /algorithm/)
    })

    test('wrong audience: a real token for another resource', async () => {
      await refused(await auth.token(PROD_APP, OTHER, 'orders:read'), /aud claim/)
    })

    test('expired: signed with the server\'s own key, exp beyond the clock skew', async () => {
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: auth.signingKey().kid }).setIssuedAt(Math.floor(Date.now() / 1000) - 3600).setExpirationTime(Math.floor(Date.now() / 1000) - 120).sign(auth.signingKey().privateKey)
      await refused(token, /expired/)
    })

    test('a kid the JWKS does not hold', async () => {
      const stranger = await signingKey('not-in-jwks')
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: stranger.kid }).setExpirationTime('5m').sign(stranger.privateKey)
      await refused(token, /signing key is not known/)
    })

    test('a token signed with a stranger\'s key under the server\'s kid', async () => {
      const stranger = await signingKey('key-1')
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', kid: auth.signingKey().kid }).setExpirationTime('5m').sign(stranger.privateKey)
      await refused(token, /signature/)
    })
  })

  test('passCredential: true hands the consumer\'s Authorization on to the backend', async () => {
    const token = await auth.token(PROD_APP, ORDERS, 'orders:read')
    const response = await call('/strict/v1/x', bearer(token))
    assert.equal(response.json().headers.authorization, `Bearer ${token}`)
  })

  test('a token verified once is remembered, but refused once its exp has passed', async () => {
    const key = auth.signingKey()
    const exp = Math.floor(Date.now() / 1000) + 2
    const token = await new SignJWT({ iss: auth.issuer, aud: ORDERS, sub: 'short-lived', client_id: 'prod-app' }).setProtectedHeader({ alg: 'RS256', kid: key.kid }).setExpirationTime(exp).sign(key.privateKey)
    assert.equal((await call('/strict/v1/x', bearer(token))).status, 200)
    await sleep(exp * 1000 - Date.now() + 200)
    const late = await call('/strict/v1/x', bearer(token))
    assert.equal(late.status, 401, late.text)
    assert.equal(late.json().message, 'The token has expired')
  })

  test('JWKS rotation: a token signed with the new key passes once the cooldown allows a fetch; the old key still verifies', async () => {
    const old = await auth.token(PROD_APP, ORDERS, 'orders:read')
    assert.equal((await call('/orders/v1/orders', bearer(old))).status, 200)
    const fetchesBefore = auth.hits.get('/jwks') ?? 0
    await auth.rotate()
    const rotated = await auth.token(PROD_APP, ORDERS, 'orders:read')
    await sleep(300)
    const response = await call('/orders/v1/orders', bearer(rotated))
    assert.equal(response.status, 200, response.text)
    assert.equal(auth.hits.get('/jwks'), fetchesBefore + 1, 'the unknown kid fetched the JWKS once')
    assert.equal((await call('/orders/v1/orders', bearer(old))).status, 200)
  })

  test('unknown kids within the cooldown fetch the JWKS no more than once', async () => {
    await sleep(300)
    const fetchesBefore = auth.hits.get('/jwks') ?? 0
    const stranger = await signingKey('flood')
    const token = await new SignJWT({ iss: auth.issuer, aud: ORDERS }).setProtectedHeader({ alg: 'RS256', kid: 'flood' }).setExpirationTime('5m').sign(stranger.privateKey)
    const statuses = await Promise.all(Array.from({ length: 20 }, () => call('/orders/v1/orders', bearer(token)).then((r) => r.status)))
    assert.deepEqual(new Set(statuses), new Set([401]))
    assert.ok((auth.hits.get('/jwks') ?? 0) - fetchesBefore <= 1, `${(auth.hits.get('/jwks') ?? 0) - fetchesBefore} JWKS fetches`)
  })

  test('opaque tokens by introspection: cached, one call in flight for concurrent requests, inactive ones refused', async () => {
    const token = await auth.token(SANDBOX_APP, OPAQUE, 'orders:read')
    assert.ok(!token.includes('.'), 'the server issued an opaque token')
    const before = auth.hits.get('/token/introspection') ?? 0
    const responses = await Promise.all(Array.from({ length: 8 }, () => call('/opaque/v1/x', bearer(token))))
    for (const response of responses) {
      assert.equal(response.status, 200, response.text)
      assert.equal(response.json().url, '/sandbox/x', 'the introspected keytype chose sandbox')
    }
    assert.equal((await call('/opaque/v1/x', bearer(token))).status, 200)
    assert.equal((auth.hits.get('/token/introspection') ?? 0) - before, 1)
    const forged = await call('/opaque/v1/x', bearer('made-up-opaque-token'))
    assert.equal(forged.status, 401)
    assert.match(String(forged.headers['www-authenticate']), /error="invalid_token", error_description="The token is not active"/)
  })

  test('API keys in a header: production and sandbox keys choose their environment; unknown and expired keys are refused', async () => {
    const production = await call('/orders/v1/orders', { apikey: PROD_KEY })
    assert.equal(production.json().url, '/prod/orders')
    assert.equal(production.json().headers.apikey, undefined, 'the key reached the backend')
    assert.equal((await call('/orders/v1/orders', { apikey: SANDBOX_KEY, 'x-portico-environment': 'production' })).json().url, '/sandbox/orders')
    const unknown = await call('/orders/v1/orders', { apikey: 'guessed' })
    assert.equal(unknown.status, 401)
    assert.equal(unknown.json().message, 'The API key is not known')
    const expired = await call('/orders/v1/orders', { apikey: EXPIRED_KEY })
    assert.equal(expired.status, 401)
    assert.equal(expired.json().message, 'The API key has expired')
  })

  test('an API key in a query parameter is removed from the query the backend sees, other parameters kept as sent', async () => {
    const response = await call(`/query/v1/items?a=1&api_key=${PROD_KEY}&b=x%20y`)
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().url, '/prod/items?a=1&b=x%20y')
  })

  test('Basic against a scrypt-hashed user list', async () => {
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` })
    const ok = await call('/orders/v1/orders', basic('carol', 'hunter2'))
    assert.equal(ok.status, 200, ok.text)
    assert.equal(JSON.parse(Buffer.from(ok.json().headers['x-consumer']!, 'base64url').toString()).application, 'carols-app')
    const wrong = await call('/orders/v1/orders', basic('carol', 'hunter3'))
    assert.equal(wrong.status, 401)
    assert.match(String(wrong.headers['www-authenticate']), /Basic realm="portico"/)
    assert.equal((await call('/orders/v1/orders', basic('mallory', 'hunter2'))).status, 401)
  })

  test('resources with security: [] or authType: None are open; the API without security is unchanged and honours the header', async () => {
    assert.equal((await call('/orders/v1/health')).status, 200)
    assert.equal((await call('/orders/v1/public')).status, 200)
    assert.equal((await call('/open/v1/x', { 'x-portico-environment': 'sandbox' })).json().url, '/sandbox/x')
  })

  test('CORS: a preflight is answered at the gateway without credentials; an allowed origin\'s response carries the headers', async () => {
    const before = backend.requests.length
    const preflight = await call('/orders/v1/orders', { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' }, 'OPTIONS')
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://shop.example')
    assert.equal(preflight.headers['access-control-allow-credentials'], 'true')
    assert.equal(preflight.headers['access-control-max-age'], '600')
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/)
    assert.equal(backend.requests.length, before)
    const stranger = await call('/orders/v1/orders', { origin: 'https://evil.example', 'access-control-request-method': 'GET' }, 'OPTIONS')
    assert.equal(stranger.status, 403)
    assert.equal(stranger.json().code, 'CORS_NOT_ALLOWED')
    const actual = await call('/orders/v1/orders', { origin: 'https://shop.example', apikey: PROD_KEY })
    assert.equal(actual.headers['access-control-allow-origin'], 'https://shop.example')
    assert.equal(actual.headers.vary, 'Origin')
    const unauthenticated = await call('/orders/v1/orders', { origin: 'https://shop.example' })
    assert.equal(unauthenticated.status, 401)
    assert.equal(unauthenticated.headers['access-control-allow-origin'], 'https://shop.example', 'a browser script could not read the 401')
  })

  test('mediation reads the consumer: an IN sequence answers with subject, application and key type', async () => {
    const response = await call('/orders/v1/whoami', { apikey: SANDBOX_KEY })
    assert.equal(response.text, 'shop-web via shop-web (SANDBOX)')
  })

  test('WSO2\'s API-key form, a JWT signed by the gateway key (PEM in config): its keytype and application are used', async () => {
    const key = await new SignJWT({ sub: 'admin@carbon.super', keytype: 'SANDBOX', application: { owner: 'admin', tier: 'Unlimited', name: 'PizzaApp', id: 3, uuid: 'b1' } })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: wso2Key.kid }).setIssuedAt().setJti('k1').sign(wso2Key.privateKey)
    const response = await call('/pinned/v1/x', { apikey: key })
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().url, '/sandbox/x')
    const forged = await new SignJWT({ sub: 'x', keytype: 'PRODUCTION' }).setProtectedHeader({ alg: 'RS256', kid: wso2Key.kid }).sign((await signingKey('other')).privateKey)
    assert.equal((await call('/pinned/v1/x', { apikey: forged })).status, 401)
  })

  test('the access log records subject and application, never a token or key', async () => {
    const token = await auth.token(PROD_APP, ORDERS, 'orders:read')
    await call('/orders/v1/orders', bearer(token))
    await call('/orders/v1/orders', { apikey: PROD_KEY })
    await sleep(1500)
    const log = readFileSync(join(logDir, 'access.log'), 'utf8')
    assert.ok(!log.includes(token) && !log.includes(PROD_KEY) && !log.includes('hunter2'), 'a credential is in the access log')
    const lines = log.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    assert.ok(lines.some((line) => line.subject === PROD_APP.id && line.application === PROD_APP.id))
    assert.ok(lines.some((line) => line.subject === 'shop-web' && line.application === 'shop-web' && line.environment === 'production'))
  })
})

describe('consumer authentication: an authorization server that cannot be reached', () => {
  let gateway: TestGateway
  let backend: TestBackend
  before(async () => {
    backend = await startBackend((_req, res) => res.end('reached'))
    // A port nothing listens on: the JWKS and introspection endpoints are down.
    const closed = await startBackend(() => {})
    const down = closed.url
    await closed.close()
    gateway = await startGateway(`
apis:
  - name: Jwks
    context: /jwks
    version: v1
    security: { oauth2: { jwt: { jwksUrl: "${down}/jwks" } } }
    endpoints: { production: { type: http, url: "${backend.url}" } }
  - name: Introspect
    context: /introspect
    version: v1
    security: { oauth2: { introspection: { url: "${down}/introspect", clientId: gw, clientSecret: s } } }
    endpoints: { production: { type: http, url: "${backend.url}" } }
`)
  })
  after(async () => {
    await gateway?.close()
    await backend?.close()
  })

  test('503 AUTH_SERVER_UNAVAILABLE, the token in no answer, the backend not called', async () => {
    const stranger = await signingKey('k')
    const jwt = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setExpirationTime('5m').sign(stranger.privateKey)
    for (const [path, token] of [['/jwks/v1/x', jwt], ['/introspect/v1/x', 'opaque-token-value']] as const) {
      const response = await request(`${gateway.url}${path}`, { headers: { authorization: `Bearer ${token}` } })
      const text = await response.body.text()
      assert.equal(response.statusCode, 503, `${path}: ${text}`)
      assert.equal((JSON.parse(text) as { code: string }).code, 'AUTH_SERVER_UNAVAILABLE')
      assert.ok(!text.includes(token))
    }
    assert.equal(backend.requests.length, 0)
  })
})

describe('consumer authentication: config checks', () => {
  const load = (security: string, resource = '{ uriTemplate: /x }') =>
    () => parseConfig(`apis:\n  - { name: A, context: /a, version: v1, security: ${security}, resources: [${resource}], endpoints: { production: { type: http, url: "http://127.0.0.1:1" } } }\n`, 'access.yaml')

  test('an API key hash that is not sha256 hex is refused, naming the field', () => {
    assert.throws(load('{ apiKey: { keys: [{ sha256: plain-key, application: a }] } }'), /security\.apiKey\.keys\[0\]\.sha256: must be 64 hex digits/)
  })

  test('jwt needs exactly one key source, and HS256 is not an algorithm it takes', () => {
    assert.throws(load('{ oauth2: { jwt: { issuer: x } } }'), /needs exactly one of jwksUrl or keys/)
    assert.throws(load('{ oauth2: { jwt: { jwksUrl: "http://127.0.0.1:1/jwks", algorithms: [HS256] } } }'), /algorithms\[0\]/)
  })

  test('a resource naming a scheme the API does not configure is refused', () => {
    assert.throws(load('{ apiKey: { keys: [] } }', '{ uriTemplate: /x, security: [oauth2] }'), /resources\[0\]\.security\[0\]: names oauth2/)
  })
})

describe('portico hash-key and hash-password', () => {
  const cli = (command: string, input: string) =>
    spawnSync(process.execPath, [fileURLToPath(new URL('../src/cli.ts', import.meta.url)), command], { input, encoding: 'utf8', timeout: 20_000 })

  test('hash-key prints the sha256 hex of the key on standard input, without its trailing newline', () => {
    const result = cli('hash-key', `${PROD_KEY}\n`)
    assert.equal(result.status, 0, result.stderr)
    assert.equal(result.stdout.trim(), sha256(PROD_KEY))
  })

  test('hash-password prints a scrypt hash the config accepts; an empty input is a usage error', () => {
    const result = cli('hash-password', 'hunter2')
    assert.equal(result.status, 0, result.stderr)
    const hash = result.stdout.trim()
    assert.match(hash, /^scrypt\$16384\$8\$1\$/)
    assert.doesNotThrow(() => parseConfig(`apis:\n  - { name: A, context: /a, version: v1, security: { basicAuth: { users: [{ username: u, passwordHash: "${hash}" }] } }, endpoints: { production: { type: http, url: "http://127.0.0.1:1" } } }\n`, 'a.yaml'))
    assert.equal(cli('hash-password', '').status, 2)
  })
})
