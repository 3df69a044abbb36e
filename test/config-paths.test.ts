import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { loadConfigFile } from '../src/config/reader.ts'
import { createTestPki, type TestPki } from './support/certificates.ts'
import { freePort, runCli, startCli } from './support/cli.ts'

// File paths in a config are relative to the config file's directory, not to where `portico` was started.
describe('file paths relative to the config file', () => {
  let dir: string
  let pki: TestPki
  const config = (port: number, adminPort: number) => `
listeners: [{ name: public, host: 127.0.0.1, port: ${port} }]
admin: { port: ${adminPort} }
accessLog: { path: logs/access.log }
apis:
  - name: Menu
    context: /menu
    version: v1
    lifecycle: PROTOTYPED
    resources: [{ uriTemplate: /items, methods: [GET] }]
    endpoints:
      production:
        type: prototype
        resources:
          - uriTemplate: /items
            responses: [{ file: data/menu.json, headers: { content-type: application/json } }]
  - name: Calculator
    context: /calculator
    version: v1
    soap: {}
    endpoints:
      production: { type: wsdl, wsdl: wsdl/calculator.wsdl, service: CalculatorService, port: CalculatorSoap11Port }
  - name: Secure
    context: /secure
    version: v1
    endpoints:
      production: { type: http, url: "https://backend.test/api", security: { tls: { ca: pki/ca.pem } } }
      sandbox:
        type: http
        url: https://backend.test/api
        security:
          auth: { type: oauth2, tokenUrl: "https://idp.test/token", clientId: gateway, clientSecret: s, tls: { ca: pki/ca.pem } }
  - name: Basic
    context: /basic
    version: v1
    endpoints:
      production: { type: http, url: "http://127.0.0.1:9/api", security: { auth: { type: basic, username: u, password: p } } }
`

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-paths-'))
    pki = createTestPki('backend.test', 'gateway')
    for (const sub of ['logs', 'data', 'wsdl', 'pki']) await mkdir(join(dir, sub))
    await writeFile(join(dir, 'data/menu.json'), '[{"name":"Margherita"}]')
    await copyFile('examples/soap/calculator.wsdl', join(dir, 'wsdl/calculator.wsdl'))
    await copyFile(pki.files.ca, join(dir, 'pki/ca.pem'))
  })
  after(async () => {
    pki.remove()
    await rm(dir, { recursive: true, force: true })
  })

  test('every kind of file path resolves against the config file directory, not the working directory', async () => {
    const file = join(dir, 'portico.yaml')
    await writeFile(file, config(8280, 9901))
    const model = await loadConfigFile(file)
    assert.notEqual(process.cwd(), dir)
    assert.equal(model.accessLog.path, join(dir, 'logs/access.log'))
    const [menu, calculator, secure] = model.apis.map((api) => api.endpoints.production) as Array<Record<string, unknown>>
    assert.equal((menu!.resources as Array<{ responses: Array<{ file: string }> }>)[0]!.responses[0]!.file, join(dir, 'data/menu.json'))
    assert.equal(calculator!.wsdl, join(dir, 'wsdl/calculator.wsdl'))
    assert.match((secure!.security as { tls: { ca: string } }).tls.ca, /^-----BEGIN CERTIFICATE-----/)
    const tokenEndpoint = model.apis[2]!.endpoints.sandbox as { security: { auth: { tls: { ca: string } } } }
    assert.match(tokenEndpoint.security.auth.tls.ca, /^-----BEGIN CERTIFICATE-----/)
  })

  test('portico validate finds them from another directory, and a missing one is named where it was looked for', async () => {
    const file = join(dir, 'portico.yaml')
    await writeFile(file, config(8280, 9901))
    const valid = await runCli(['validate', file])
    assert.equal(valid.code, 0, valid.stderr)
    await writeFile(join(dir, 'missing.yaml'), config(8280, 9901).replace('data/menu.json', 'data/nowhere.json'))
    const missing = await runCli(['validate', join(dir, 'missing.yaml')])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, new RegExp(`file "${join(dir, 'data/nowhere.json')}" does not exist`))
  })

  test('a config parsed without a directory (in the working directory) keeps its paths as written', () => {
    assert.throws(
      () => parseConfig(config(8280, 9901), 'portico.yaml'),
      // The PEM file is read where the schema checks it: the message shows the path exactly as written.
      (error: unknown) => error instanceof ConfigError && error.issues.some((issue) => issue.message.includes('"pki/ca.pem"')),
    )
  })

  test('the running gateway serves the file and writes the access log beside the config', async () => {
    const port = await freePort()
    const file = join(dir, 'portico.yaml')
    await writeFile(file, config(port, await freePort()))
    const cli = startCli(['start', '--config', file, '--workers', '1'])
    try {
      await cli.waitForLog('listening on')
      const response = await request(`http://127.0.0.1:${port}/menu/v1/items`)
      assert.equal(response.statusCode, 200)
      assert.deepEqual(await response.body.json(), [{ name: 'Margherita' }])
    } finally {
      await cli.stop()
    }
    assert.match(await readFile(join(dir, 'logs/access.log'), 'utf8'), /\/menu\/v1\/items/)
  })
})
