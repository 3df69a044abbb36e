import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose'
import Provider, { errors as oidcErrors } from 'oidc-provider'
import { request } from 'undici'
import { BackendSecurity } from '../src/security/schema.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { createTestPki, type TestPki } from './support/certificates.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

/** Resource servers the authorization server knows, with the lifetime of their tokens in seconds. */
const RESOURCES: Record<string, number> = { 'https://orders.example': 300, 'https://short.example': 3 }

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function close(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server?.listening) return resolve()
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

describe('backend OAuth2 against oidc-provider', () => {
  let authServer: Server
  let issuer: string
  let tokenRequests = 0
  /** The password-grant token endpoint, a plain node:http server (oidc-provider has no password grant). */
  let passwordServer: Server
  let passwordRequests: URLSearchParams[] = []
  const passwordTokens = new Set<string>()
  let backend: TestBackend
  /** Tokens the backend stops accepting, as if revoked. */
  const revoked = new Set<string>()
  let gateway: TestGateway

  before(async () => {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true })
    const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' }
    authServer = createServer()
    issuer = await listen(authServer)
    const provider = new Provider(issuer, {
      jwks: { keys: [jwk] },
      cookies: { keys: ['test-cookie-key'] },
      scopes: ['openid', 'orders:read', 'orders:write'],
      clients: [
        { client_id: 'gateway', client_secret: 'basic-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read orders:write' },
        { client_id: 'gateway-post', client_secret: 'post-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post', scope: 'orders:read' },
      ],
      features: {
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => 'https://orders.example',
          getResourceServerInfo: (_ctx: unknown, resource: string) => {
            const ttl = RESOURCES[resource]
            if (ttl === undefined) throw new oidcErrors.InvalidTarget()
            return { scope: 'orders:read orders:write', audience: resource, accessTokenTTL: ttl, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }
          },
        },
      },
    })
    const callback = provider.callback()
    authServer.on('request', (req, res) => {
      if (req.url?.startsWith('/token')) tokenRequests++
      callback(req, res)
    })

    passwordServer = createServer((req, res) => {
      let body = ''
      req.on('data', (chunk: Buffer) => (body += chunk.toString()))
      req.on('end', () => {
        const form = new URLSearchParams(body)
        passwordRequests.push(form)
        const reply = (status: number, value: object) => {
          res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          res.end(JSON.stringify(value))
        }
        const ok = form.get('grant_type') === 'password' && form.get('client_id') === 'pw-client' && form.get('client_secret') === 'pw-secret'
        if (!ok) return reply(401, { error: 'invalid_client' })
        if (form.get('username') !== 'carol' || form.get('password') !== 'hunter2') return reply(400, { error: 'invalid_grant', error_description: 'wrong resource owner credentials' })
        const token = randomUUID()
        passwordTokens.add(token)
        reply(200, { access_token: token, token_type: 'Bearer', expires_in: 60, scope: form.get('scope') })
      })
    })
    const passwordUrl = await listen(passwordServer)

    // A port nothing listens on (fetch refuses well-known ports such as 1 outright).
    const closed = createServer()
    const closedUrl = await listen(closed)
    await close(closed)

    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`))
    backend = await startBackend((req, res, body) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      const deny = (description: string) => {
        res.writeHead(401, { 'www-authenticate': `Bearer error="invalid_token", error_description="${description}"` })
        res.end()
      }
      if (!token || revoked.has(token) || req.url!.startsWith('/always-401')) return deny('the token is not accepted')
      const answer = (claims: object) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ claims, token, body: body.toString(), clientAuthorization: req.headers['x-client-authorization'] ?? null }))
      }
      if (passwordTokens.has(token)) return answer({ sub: 'carol' })
      jwtVerify(token, jwks, { issuer }).then(
        ({ payload }) => answer(payload),
        (error: Error) => deny(error.message),
      )
    })

    const endpoint = (path: string, auth: string, extra = '') =>
      `{ type: http, url: "${backend.url}${path}", security: { auth: { type: oauth2, tokenUrl: "${issuer}/token", ${auth} }${extra} } }`
    const api = (name: string, production: string) => `
  - name: ${name}
    context: /${name.toLowerCase()}
    version: v1
    endpoints: { production: ${production} }`
    gateway = await startGateway(`
apis:${api('Orders', endpoint('', 'clientId: gateway, clientSecret: basic-secret, scopes: [orders:read, orders:write], resource: "https://orders.example"', ', forwardClientAuthorization: x-client-authorization'))}${api(
      'Posted',
      endpoint('', 'clientId: gateway-post, clientSecret: post-secret, clientAuthentication: client_secret_post, scopes: [orders:read]'),
    )}${api('Crowd', endpoint('', 'clientId: gateway, clientSecret: basic-secret'))}${api(
      'Short',
      endpoint('', 'clientId: gateway, clientSecret: basic-secret, resource: "https://short.example", refreshBefore: 1500ms'),
    )}${api('Refused', endpoint('/always-401', 'clientId: gateway, clientSecret: basic-secret'))}${api('Badsecret', endpoint('', 'clientId: gateway, clientSecret: not-the-secret'))}${api(
      'Notoken',
      `{ type: http, url: "${backend.url}", security: { auth: { type: oauth2, tokenUrl: "${closedUrl}/token", clientId: c, clientSecret: s } } }`,
    )}${api(
      'Password',
      `{ type: http, url: "${backend.url}", security: { auth: { type: oauth2, tokenUrl: "${passwordUrl}/token", grantType: password, clientId: pw-client, clientSecret: pw-secret, clientAuthentication: client_secret_post, username: carol, password: hunter2, scopes: [a, b], audience: "https://api.example" } } }`,
    )}
`)
  })

  after(async () => {
    await gateway?.close()
    await backend?.close()
    await close(authServer)
    await close(passwordServer)
  })

  async function call(path: string, options: { method?: 'GET' | 'POST'; body?: string | Readable; headers?: Record<string, string> } = {}) {
    const response = await request(`${gateway.url}${path}`, { method: options.method ?? 'GET', body: options.body, headers: options.headers, headersTimeout: 10_000, bodyTimeout: 10_000 })
    const text = await response.body.text()
    return { status: response.statusCode, text, json: () => JSON.parse(text) }
  }

  test('client credentials with client_secret_basic: the backend verifies a JWT with the asked scopes and resource', async () => {
    const response = await call('/orders/v1/items', { headers: { authorization: 'Bearer the-clients-own-token' } })
    assert.equal(response.status, 200, response.text)
    const { claims, clientAuthorization } = response.json()
    assert.equal(claims.client_id, 'gateway')
    assert.equal(claims.aud, 'https://orders.example')
    assert.equal(claims.scope, 'orders:read orders:write')
    assert.equal(clientAuthorization, 'Bearer the-clients-own-token', 'the client header is passed on under the configured name')
  })

  test('client_secret_post works, and a client cannot forge the forwarding header', async () => {
    const response = await call('/posted/v1/items', { headers: { 'x-client-authorization': 'forged' } })
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().claims.client_id, 'gateway-post')
    assert.equal(response.json().claims.scope, 'orders:read')
    assert.equal(response.json().clientAuthorization, 'forged', 'without forwardClientAuthorization other headers pass unchanged')
    const forwarded = await call('/orders/v1/items', { headers: { 'x-client-authorization': 'forged' } })
    assert.equal(forwarded.json().clientAuthorization, null)
  })

  test('the token is cached: many concurrent requests on a cold endpoint make one token request', async () => {
    const before = tokenRequests
    const responses = await Promise.all(Array.from({ length: 25 }, () => call('/crowd/v1/items')))
    for (const response of responses) assert.equal(response.status, 200, response.text)
    assert.equal(tokenRequests - before, 1)
    assert.equal(new Set(responses.map((response) => response.json().token)).size, 1)
    await call('/crowd/v1/items')
    assert.equal(tokenRequests - before, 1)
  })

  test('a token close to expiry is renewed in the background, before it lapses', async () => {
    const expiresBy = Date.now() + 3000
    const first = (await call('/short/v1/items')).json().token
    // The 3 s token is renewed after its lifetime less min(refreshBefore, half its lifetime): 1.5 s.
    await sleep(1600)
    const before = tokenRequests
    // Within refreshBefore of expiry: still served with the old token, while a new one is fetched.
    assert.equal((await call('/short/v1/items')).json().token, first)
    const deadline = Date.now() + 3000
    while (tokenRequests === before && Date.now() < deadline) await sleep(20)
    assert.ok(Date.now() < expiresBy - 300, 'the new token was requested while the old one was still valid')
    await sleep(100)
    const renewed = (await call('/short/v1/items')).json().token
    assert.notEqual(renewed, first)
    assert.equal(tokenRequests - before, 1)
  })

  test('a 401 from the backend triggers one token refresh and one retry, with the body sent again', async () => {
    const current = (await call('/orders/v1/items')).json().token
    revoked.add(current)
    const beforeTokens = tokenRequests
    const beforeRequests = backend.requests.length
    const response = await call('/orders/v1/items', { method: 'POST', body: Readable.from(['{"pizza":', '"margherita"}']) })
    assert.equal(response.status, 200, response.text)
    assert.notEqual(response.json().token, current)
    assert.equal(response.json().body, '{"pizza":"margherita"}')
    assert.equal(tokenRequests - beforeTokens, 1)
    assert.equal(backend.requests.length - beforeRequests, 2)
  })

  test("a backend that keeps refusing is a 502 with its Bearer error, after one retry", async () => {
    await call('/refused/v1/x')
    const beforeRequests = backend.requests.length
    const beforeTokens = tokenRequests
    const response = await call('/refused/v1/x')
    assert.equal(response.status, 502)
    assert.equal(response.json().code, 'BACKEND_AUTH_FAILED')
    assert.match(response.json().message, /401 Unauthorized: it refused a freshly issued access token \(invalid_token: the token is not accepted\)/)
    assert.equal(backend.requests.length - beforeRequests, 2)
    assert.equal(tokenRequests - beforeTokens, 1)
  })

  test('a wrong client secret is a 502 naming the token endpoint error, and the backend is not called', async () => {
    const beforeRequests = backend.requests.length
    const response = await call('/badsecret/v1/x')
    assert.equal(response.status, 502)
    assert.equal(response.json().code, 'BACKEND_AUTH_FAILED')
    assert.match(response.json().message, /no access token: the token endpoint refused: 401 invalid_client/)
    assert.doesNotMatch(response.text, /not-the-secret/)
    assert.equal(backend.requests.length, beforeRequests)
  })

  test('an unreachable token endpoint is a 502 saying so', async () => {
    const response = await call('/notoken/v1/x')
    assert.equal(response.status, 502)
    assert.match(response.json().message, /no access token: the token endpoint could not be reached \(ECONNREFUSED\)/)
  })

  test('password grant with client_secret_post sends the resource owner, scopes and audience', async () => {
    passwordRequests = []
    const response = await call('/password/v1/x')
    assert.equal(response.status, 200, response.text)
    assert.equal(response.json().claims.sub, 'carol')
    const [form] = passwordRequests
    assert.equal(form?.get('scope'), 'a b')
    assert.equal(form?.get('audience'), 'https://api.example')
    assert.equal(form?.get('username'), 'carol')
  })

  test('the admin view shows the auth type and token requests, never a secret', async () => {
    const response = await request(`${gateway.adminUrl}/admin/endpoints`)
    const text = await response.body.text()
    assert.match(text, /"auth":"oauth2"/)
    assert.match(text, /"tokenRequests":\d+/)
    for (const secret of ['basic-secret', 'post-secret', 'hunter2', 'pw-secret']) assert.ok(!text.includes(secret), `${secret} leaked`)
  })
})

describe('backend OAuth2: a token endpoint behind a private CA that asks for a client certificate', () => {
  let pki: TestPki
  let tokenServer: HttpsServer
  let tokenUrl: string
  const issued = new Set<string>()
  /** The subject of the client certificate each token request came with. */
  const clients: string[] = []
  let backend: TestBackend
  let gateway: TestGateway

  before(async () => {
    pki = createTestPki('auth.test', 'portico-gateway')
    tokenServer = createHttpsServer(
      { cert: pki.read('serverCert'), key: pki.read('serverKey'), ca: pki.read('ca'), requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''))
        req.resume().on('end', () => {
          const token = randomUUID()
          issued.add(token)
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 60 }))
        })
      },
    )
    await new Promise<void>((resolve) => tokenServer.listen(0, '127.0.0.1', resolve))
    tokenUrl = `https://127.0.0.1:${(tokenServer.address() as AddressInfo).port}/token`
    backend = await startBackend((req, res) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      res.writeHead(token && issued.has(token) ? 200 : 401).end()
    })
    const api = (name: string, tls: string) => `
  - name: ${name}
    context: /${name.toLowerCase()}
    version: v1
    endpoints:
      production: { type: http, url: "${backend.url}", security: { auth: { type: oauth2, tokenUrl: "${tokenUrl}", clientId: c, clientSecret: s${tls} } } }`
    const tls = `, tls: { ca: "${pki.files.ca}", cert: "${pki.files.clientCert}", key: "${pki.files.clientKey}", servername: auth.test }`
    gateway = await startGateway(`apis:${api('Private', tls)}${api('Systemca', '')}`)
  })

  after(async () => {
    await gateway?.close()
    await backend?.close()
    tokenServer?.closeAllConnections()
    await new Promise((resolve) => tokenServer?.close(resolve))
    pki?.remove()
  })

  test('with the CA, client certificate and server name in tokenUrl TLS settings, a token is obtained and used', async () => {
    const response = await request(`${gateway.url}/private/v1/x`)
    await response.body.dump()
    assert.equal(response.statusCode, 200)
    assert.deepEqual(clients, ['portico-gateway'])
  })

  test('without them the token endpoint cannot be trusted: a 502 naming the TLS failure, the backend not called', async () => {
    const before = backend.requests.length
    const response = await request(`${gateway.url}/systemca/v1/x`)
    const body = (await response.body.json()) as { code: string; message: string }
    assert.equal(response.statusCode, 502)
    assert.equal(body.code, 'BACKEND_AUTH_FAILED')
    assert.match(body.message, /no access token: the token endpoint could not be reached \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID)\)/)
    assert.equal(backend.requests.length, before)
  })

  test('TLS settings on an http:// tokenUrl are refused as having no effect', () => {
    const result = BackendSecurity.safeParse({ auth: { type: 'oauth2', tokenUrl: 'http://localhost/token', clientId: 'c', clientSecret: 's', tls: { insecureSkipVerify: true } } })
    assert.equal(result.success, false)
    assert.deepEqual(
      result.error?.issues.map((issue) => [issue.path, issue.message]),
      [[['auth', 'tls'], 'has no effect: tokenUrl is http://, not https://']],
    )
  })
})
