import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { request } from 'undici'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const run = promisify(execFile)

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml')
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`)
    throw error
  }
  return []
}

const endpointWith = (security: string, url = 'http://127.0.0.1:1') => `
apis:
  - name: A
    context: /a
    version: v1
    endpoints:
      production:
        type: http
        url: "${url}"
        security: ${security}
`

describe('secret references and backend credentials in config', () => {
  let dir: string
  let backend: TestBackend
  let gateway: TestGateway
  const password = 'Grüße, ${not a reference} & more'

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'portico-secrets-'))
    writeFileSync(join(dir, 'username'), 'svc-gateway\n')
    process.env.PORTICO_TEST_PASSWORD = password
    backend = await startEchoBackend()
    gateway = await startGateway(`
apis:
  - name: Secured
    context: /secured
    version: v1
    endpoints:
      production:
        type: http
        url: ${backend.url}
        security:
          auth: { type: basic, username: "\${file:${join(dir, 'username')}}", password: "\${env:PORTICO_TEST_PASSWORD}" }
      sandbox:
        type: http
        url: ${backend.url}
        security: {}
`)
  })

  after(async () => {
    await gateway?.close()
    await backend?.close()
    delete process.env.PORTICO_TEST_PASSWORD
    rmSync(dir, { recursive: true, force: true })
  })

  test('${env:} and ${file:} fill Basic credentials, sent as UTF-8, and the client Authorization is dropped', async () => {
    const response = await request(`${gateway.url}/secured/v1/x`, { headers: { authorization: 'Bearer client-token' } })
    const echoed = (await response.body.json()) as { headers: Record<string, string> }
    assert.equal(response.statusCode, 200)
    assert.equal(echoed.headers.authorization, `Basic ${Buffer.from(`svc-gateway:${password}`, 'utf8').toString('base64')}`)
    assert.equal(Object.keys(echoed.headers).filter((name) => name === 'authorization').length, 1)
  })

  test('without gateway credentials (a security block with no auth) the client Authorization passes unchanged', async () => {
    const response = await request(`${gateway.url}/secured/v1/x`, { headers: { authorization: 'Bearer client-token', 'x-portico-environment': 'sandbox' } })
    const echoed = (await response.body.json()) as { headers: Record<string, string> }
    assert.equal(echoed.headers.authorization, 'Bearer client-token')
  })

  test('the admin view names the auth type but holds no secret', async () => {
    const text = await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.text()
    assert.match(text, /"auth":"basic"/)
    assert.ok(!text.includes('Grüße'), text)
    assert.ok(!text.includes(Buffer.from(`svc-gateway:${password}`).toString('base64')))
  })

  test('a missing variable or file is reported at its field, and $${ stays literal', () => {
    delete process.env.PORTICO_TEST_MISSING
    assert.deepEqual(problems(endpointWith('{ auth: { type: basic, username: u, password: "${env:PORTICO_TEST_MISSING}" } }')), [
      'apis[0].endpoints.production.security.auth.password: ${env:PORTICO_TEST_MISSING}: the environment variable PORTICO_TEST_MISSING is not set',
    ])
    assert.deepEqual(problems(endpointWith('{ auth: { type: basic, username: "${file:/nonexistent/user}", password: "${file:relative}" } }')), [
      'apis[0].endpoints.production.security.auth.username: ${file:/nonexistent/user}: cannot read the file "/nonexistent/user" (ENOENT)',
      'apis[0].endpoints.production.security.auth.password: ${file:relative}: the path must be absolute',
    ])
    const config = parseConfig(endpointWith('{ auth: { type: basic, username: u, password: "$${env:HOME}" } }'), 'test.yaml')
    const endpoint = config.apis[0]!.endpoints.production!
    assert.ok('security' in endpoint)
    const security = endpoint.security!
    assert.equal(security.auth?.type === 'basic' && security.auth.password, '${env:HOME}')
  })

  test('security fields are checked: grants, token URL, TLS pairs and files', () => {
    assert.deepEqual(problems(endpointWith('{ auth: { type: oauth2, tokenUrl: "http://idp.example/token", grantType: password, clientId: c, clientSecret: s } }')), [
      'apis[0].endpoints.production.security.auth.tokenUrl: must use https (http is accepted for localhost only)',
      'apis[0].endpoints.production.security.auth.username: is required for grantType "password"',
      'apis[0].endpoints.production.security.auth.password: is required for grantType "password"',
    ])
    assert.deepEqual(problems(endpointWith('{ auth: { type: kerberos } }')), [
      'apis[0].endpoints.production.security.auth.type: must be one of "basic", "digest", "oauth2"',
    ])
    assert.deepEqual(problems(endpointWith('{ auth: { type: basic, username: "a:b", password: p } }')), [
      'apis[0].endpoints.production.security.auth.username: must not contain ":" (RFC 7617)',
    ])
    assert.deepEqual(problems(endpointWith('{ tls: { cert: /nonexistent/client.pem }, forwardClientAuthorization: Authorization }')), [
      'apis[0].endpoints.production.security.tls.cert: cannot read the file "/nonexistent/client.pem" (ENOENT)',
      'apis[0].endpoints.production.security.forwardClientAuthorization: must not be "authorization"',
    ])
    assert.deepEqual(problems(endpointWith('{ tls: { key: "-----BEGIN PRIVATE KEY-----\\nnot a key\\n-----END PRIVATE KEY-----" } }')).map((problem) => problem.replace(/ \(.*\)$/, '')), [
      'apis[0].endpoints.production.security.tls.key: is not a PEM private key',
    ])
  })

  test('examples/security.yaml is a valid config', () => {
    const config = parseConfig(readFileSync('examples/security.yaml', 'utf8'), 'security.yaml')
    assert.deepEqual(
      config.apis.map((api) => {
        const endpoint = api.endpoints.production
        return endpoint && 'security' in endpoint ? endpoint.security?.auth?.type : undefined
      }),
      ['digest', 'oauth2', 'oauth2'],
    )
  })

  test('portico validate never prints a value that came from a secret reference', async () => {
    const file = join(dir, 'leaky.yaml')
    writeFileSync(file, endpointWith('{ auth: { type: basic, username: u, password: p } }', '${env:PORTICO_TEST_URL}'))
    const secretUrl = 'backend.example/api?token=4f9a2c'
    const result = await run(process.execPath, ['src/cli.ts', 'validate', file], { env: { ...process.env, PORTICO_TEST_URL: secretUrl }, timeout: 20_000 }).then(
      () => ({ stderr: '', code: 0 }),
      (error: { stderr: string; code: number }) => ({ stderr: error.stderr, code: error.code }),
    )
    assert.equal(result.code, 1)
    assert.match(result.stderr, /apis\[0\]\.endpoints\.production\.url: must be an absolute http:\/\/ or https:\/\/ URL, got "\[redacted\]"/)
    assert.ok(!result.stderr.includes('4f9a2c'), result.stderr)
  })
})
