import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { splitApiItems } from '../src/config/api-items.ts'
import { ConfigError, parseConfig, parseConfigData } from '../src/config/load.ts'
import { ConfigReader } from '../src/config/reader.ts'
import { createCertificateAuthority } from './support/certificates.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

const api = (name: string, extra = '', url = `http://127.0.0.1:9/${name}`) => `  - name: ${name}
    context: /${name}
    version: v1
    resources:
      - { uriTemplate: "/items/{id}", methods: [GET] }
    endpoints:
      production: { type: http, url: "${url}"${extra} }
`
const config = (...apis: string[]) => `listeners: [{ port: 8280 }]\nadmin: { enabled: false }\napis:\n${apis.join('')}limits: { maxHeaders: 50 }\n`

describe('splitting a config into its API items', () => {
  test('cuts the items of a block sequence, with their comments, and keeps the rest as the head', () => {
    const text = 'listeners: [{ port: 1 }]\napis:\n  # first\n  - name: a\n    context: /a\n  # between\n\n  - name: b\nlimits: {}\n'
    assert.deepEqual(splitApiItems(text), { head: 'listeners: [{ port: 1 }]\nlimits: {}\n', items: ['  - name: a\n    context: /a\n  # between\n', '  - name: b'] })
    assert.deepEqual(splitApiItems('apis:\n- name: a\n  x: 1\n-\n  name: b\n')?.items, ['- name: a\n  x: 1', '-\n  name: b'])
  })

  test('declines every other shape, for the full parser to read', () => {
    for (const text of [
      'apis: []\n',
      'apis: [{ name: a }]\n',
      '{"apis": [{"name": "a"}]}',
      'apis:\n  - name: a\n - name: b\n',
      'apis:\n  - name: a\n\tcontext: /a\n',
      'apis:\n  - name: a\n  \tcontext: /a\n',
      'apis:\n  - name: a\n---\napis: []\n',
      '%YAML 1.2\n---\napis:\n  - name: a\n',
      'apis:\n  - name: a\napis:\n  - name: b\n',
      'apis:\r\n  - name: a\r\n',
      'apis:\n  name: a\n',
      'listeners: []\n',
    ]) {
      assert.equal(splitApiItems(text), undefined, JSON.stringify(text))
    }
  })
})

describe('a config reader', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portico-reader-'))
  after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'portico.yaml')

  test('reads every example as parseConfig does, the same config or the same problems', () => {
    const outcome = (read: () => unknown) => {
      try {
        return { config: read() }
      } catch (error) {
        return { issues: (error as ConfigError).issues }
      }
    }
    const examples = readdirSync(join(ROOT, 'examples')).filter((name) => name.endsWith('.yaml'))
    assert.ok(examples.length >= 8)
    for (const name of examples) {
      const path = join(ROOT, 'examples', name)
      const text = readFileSync(path, 'utf8')
      const reader = new ConfigReader()
      const expected = outcome(() => parseConfig(text, path))
      assert.deepEqual(outcome(() => reader.parse(text, path)), expected, name)
      // And again, reusing what it read.
      assert.deepEqual(outcome(() => reader.parse(text, path)), expected, `${name}, read again`)
    }
  })

  test('hands the same object for an API whose text did not change, wherever it moved, and a new one for a changed API', () => {
    const reader = new ConfigReader()
    const first = reader.parse(config(api('a'), api('b'), api('c')), file)
    const second = reader.parse(config(api('c'), api('a'), api('b', '', 'http://127.0.0.1:9/changed')), file)
    assert.equal(second.apis[0], first.apis[2])
    assert.equal(second.apis[1], first.apis[0])
    assert.notEqual(second.apis[2], first.apis[1])
    assert.equal((second.apis[2]!.endpoints.production as { url: string }).url, 'http://127.0.0.1:9/changed')
    assert.equal(second.limits.maxHeaders, 50)
    assert.deepEqual(second, parseConfig(config(api('c'), api('a'), api('b', '', 'http://127.0.0.1:9/changed')), file))
  })

  test('checks the rules across APIs on every read: an unchanged API that now clashes is refused with its line', () => {
    const reader = new ConfigReader()
    reader.parse(config(api('a'), api('b')), file)
    const clash = config(api('a'), api('b'), api('a').replace('name: a', 'name: a2'))
    assert.throws(
      () => reader.parse(clash, file),
      (error: unknown) => error instanceof ConfigError && error.issues.some((issue) => issue.path === 'apis[2]' && issue.line === 18 && /serves "\/a\/v1", which apis\[0\] serves already/.test(issue.message)),
    )
  })

  test('a problem in a changed API is reported with its line, as parseConfig reports it', () => {
    const reader = new ConfigReader()
    reader.parse(config(api('a'), api('b')), file)
    const broken = config(api('a'), api('b').replace('version: v1', 'version: "v 1"'))
    assert.throws(() => reader.parse(broken, file), (error: unknown) => {
      assert.ok(error instanceof ConfigError)
      assert.deepEqual(error.issues, (() => {
        try {
          parseConfig(broken, file)
        } catch (full) {
          return (full as ConfigError).issues
        }
      })())
      assert.equal(error.issues[0]!.path, 'apis[1].version')
      return true
    })
  })

  test('reads a secret reference again on every read: a changed environment variable is seen', () => {
    const reader = new ConfigReader()
    const text = config(api('a'), api('b', ', security: { auth: { type: basic, username: u, password: "${env:PORTICO_READER_SECRET}" } }'))
    process.env.PORTICO_READER_SECRET = 'first'
    try {
      const first = reader.parse(text, file)
      process.env.PORTICO_READER_SECRET = 'second'
      const second = reader.parse(text, file)
      assert.equal(second.apis[0], first.apis[0], 'the API without a reference is reused')
      assert.equal((second.apis[1]!.endpoints.production as { security: { auth: { password: string } } }).security.auth.password, 'second')
    } finally {
      delete process.env.PORTICO_READER_SECRET
    }
  })

  test('reads the rest of the config again when its text changed, or when it holds a secret reference', () => {
    const reader = new ConfigReader()
    const first = reader.parse(config(api('a')), file)
    const same = reader.parse(config(api('a')), file)
    assert.equal(same.limits, first.limits, 'an unchanged rest is taken as it was')
    const changed = reader.parse(config(api('a')).replace('maxHeaders: 50', 'maxHeaders: 60'), file)
    assert.equal(changed.limits.maxHeaders, 60)
    process.env.PORTICO_READER_PATH = join(dir, 'first.log')
    try {
      const text = `accessLog: { path: "\${env:PORTICO_READER_PATH}" }\n${config(api('a'))}`
      assert.equal(reader.parse(text, file).accessLog.path, join(dir, 'first.log'))
      process.env.PORTICO_READER_PATH = join(dir, 'second.log')
      assert.equal(reader.parse(text, file).accessLog.path, join(dir, 'second.log'))
    } finally {
      delete process.env.PORTICO_READER_PATH
    }
  })

  test('reads a file the schema reads (a PEM) again on every read: a rotated certificate is seen', () => {
    const reader = new ConfigReader()
    const ca = join(dir, 'ca.pem')
    const authorities = [createCertificateAuthority(), createCertificateAuthority()]
    after(() => authorities.forEach((authority) => authority.remove()))
    writeFileSync(ca, authorities[0]!.root)
    const text = config(api('a', `, security: { tls: { ca: ${ca} } }`, 'https://127.0.0.1:9/a'))
    const first = reader.parse(text, file)
    writeFileSync(ca, authorities[1]!.root)
    const second = reader.parse(text, file)
    const pem = (model: typeof first) => (model.apis[0]!.endpoints.production as { security: { tls: { ca: string } } }).security.tls.ca
    assert.notEqual(pem(second), pem(first))
    assert.equal(pem(second), readFileSync(ca, 'utf8'))
  })

  test('resolves relative paths against the file it reads: the same text in another directory is read afresh', () => {
    const reader = new ConfigReader()
    const text = config(api('a'), `  - name: w
    context: /w
    version: v1
    endpoints:
      production: { type: wsdl, wsdl: calc.wsdl, service: CalculatorService, port: CalculatorSoap11Port }
`)
    const wsdl = readFileSync(join(ROOT, 'examples/soap/calculator.wsdl'), 'utf8')
    const other = mkdtempSync(join(tmpdir(), 'portico-reader-other-'))
    try {
      writeFileSync(join(dir, 'calc.wsdl'), wsdl)
      writeFileSync(join(other, 'calc.wsdl'), wsdl)
      const here = reader.parse(text, file)
      const there = reader.parse(text, join(other, 'portico.yaml'))
      assert.equal((here.apis[1]!.endpoints.production as { wsdl: string }).wsdl, join(dir, 'calc.wsdl'))
      assert.equal((there.apis[1]!.endpoints.production as { wsdl: string }).wsdl, join(other, 'calc.wsdl'))
    } finally {
      rmSync(other, { recursive: true, force: true })
    }
  })

  test('reads APIs keyed by the caller: a key seen valid is taken as it was, one with a secret reference is read again', () => {
    const reader = new ConfigReader()
    const head = { listeners: [{ port: 8280 }] }
    const data = (name: string, url = `http://127.0.0.1:9/${name}`) => ({ name, context: `/${name}`, version: 'v1', endpoints: { production: { type: 'http', url } } })
    const keyed = (key: string, api: Record<string, unknown>) => ({ key, data: () => api, references: JSON.stringify(api).includes('${') })
    process.env.PORTICO_TEST_KEYED_URL = 'http://127.0.0.1:9/first'
    const apis = [keyed('a@1', data('a')), keyed('b@1', data('b', '${env:PORTICO_TEST_KEYED_URL}')), keyed('c@1', data('c'))]
    const first = reader.parseKeyed(head, apis, 'v1')
    assert.deepEqual(first, parseConfigData({ ...head, apis: apis.map((api) => api.data()) }, 'v1'))
    process.env.PORTICO_TEST_KEYED_URL = 'http://127.0.0.1:9/second'
    const second = reader.parseKeyed(head, [apis[0]!, apis[1]!, keyed('c@2', data('c', 'http://127.0.0.1:9/c2'))], 'v2')
    assert.equal(second.apis[0], first.apis[0], 'the same key: the API as validated before')
    assert.equal((second.apis[1]!.endpoints.production as { url: string }).url, 'http://127.0.0.1:9/second', 'a secret reference is resolved again')
    assert.equal((second.apis[2]!.endpoints.production as { url: string }).url, 'http://127.0.0.1:9/c2')
    delete process.env.PORTICO_TEST_KEYED_URL
    assert.throws(() => reader.parseKeyed(head, [apis[0]!, keyed('d@1', { ...data('d'), context: '/a' })], 'v3'), (error: unknown) => error instanceof ConfigError && error.issues[0]!.path === 'apis[1]')
  })

  test('reads a config store\'s data as parseConfigData does, reusing the APIs whose JSON it has seen', () => {
    const reader = new ConfigReader()
    const data = (url: string) => ({
      listeners: [{ port: 8280 }],
      apis: ['a', 'b', 'c'].map((name) => ({ name, context: `/${name}`, version: 'v1', endpoints: { production: { type: 'http', url: name === 'b' ? url : `http://127.0.0.1:9/${name}` } } })),
    })
    const first = reader.parseData(data('http://127.0.0.1:9/b'), 'v1')
    const second = reader.parseData(data('http://127.0.0.1:9/changed'), 'v2')
    assert.equal(second.apis[0], first.apis[0])
    assert.equal(second.apis[2], first.apis[2])
    assert.notEqual(second.apis[1], first.apis[1])
    assert.deepEqual(second, parseConfigData(data('http://127.0.0.1:9/changed'), 'v2'))
    const clash = data('http://127.0.0.1:9/b')
    clash.apis[2]!.context = '/a'
    assert.throws(() => reader.parseData(clash, 'v3'), (error: unknown) => error instanceof ConfigError && error.issues[0]!.path === 'apis[2]')
  })

  for (const whileServing of [true, false]) {
    test(`loads a large file ${whileServing ? 'in a parser process while serving' : 'in this process before serving'}, then reads a change to one API in this one`, async () => {
      const apis = Array.from({ length: 150 }, (_, index) => api(`api${index}`))
      writeFileSync(file, config(...apis))
      const reader = new ConfigReader()
      const first = await reader.load(file, { whileServing })
      assert.equal(first.apis.length, 150)
      assert.deepEqual(first, parseConfig(config(...apis), file))
      apis[75] = api('api75', '', 'http://127.0.0.1:9/changed')
      writeFileSync(file, config(...apis))
      const second = await reader.load(file, { whileServing: true })
      assert.equal(second.apis[74], first.apis[74], 'what the first read validated is reused')
      assert.equal((second.apis[75]!.endpoints.production as { url: string }).url, 'http://127.0.0.1:9/changed')
      assert.deepEqual(second, parseConfig(config(...apis), file))
    })
  }
})
