import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import $RefParser from '@apidevtools/json-schema-ref-parser'
import { Ajv, type ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { sample } from 'openapi-sampler'
import type { JSONSchema7 } from 'json-schema'
import { request } from 'undici'
import { parseConfig } from '../src/config/load.ts'
import { PorticoInstance } from '../src/process/instance.ts'
import { createLogger } from '../src/telemetry/logger.ts'
import { importOpenApi } from '../src/import/openapi.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

type Json = Record<string, any>

const FIXTURES = [
  { file: 'test/fixtures/openapi/petstore-3.0.yaml', context: '/petstore' },
  { file: 'test/fixtures/openapi/tictactoe-3.1.yaml', context: '/tictactoe' },
  { file: 'test/fixtures/openapi/swagger-petstore-3.0.yaml', context: '/store' },
]

/**
 * The checks below read the document on their own: fully dereferenced by json-schema-ref-parser and compiled
 * schema by schema into a fresh ajv, independent of how the prototype reads and validates it.
 */
async function independentReader(file: string) {
  const document = (await $RefParser.dereference(file)) as Json
  const ajv = String(document.openapi).startsWith('3.1') ? new Ajv2020({ strict: false }) : new Ajv({ strict: false })
  addFormats.default(ajv)
  for (const name of ['int32', 'int64', 'float', 'double', 'byte', 'binary', 'password']) ajv.addFormat(name, true)
  const compile = (schema: unknown): ValidateFunction => ajv.compile(schema as object)
  return { document, compile }
}

/** A sample for building valid requests; schema `example`s are dropped, because some fixtures get them wrong. */
function requestSample(schema: unknown): unknown {
  const withoutExamples = JSON.parse(JSON.stringify(schema, (key, value) => (key === 'example' ? undefined : value)))
  return sample(withoutExamples as JSONSchema7, { skipReadOnly: true, quiet: true })
}

interface Call {
  method: string
  path: string
  headers: Record<string, string>
  body: string | Buffer | undefined
}

/** A valid request for an operation: every parameter filled from its schema, a body of the first media type. */
function validCall(method: string, template: string, pathItem: Json, operation: Json): Call {
  const parameters = [...(pathItem.parameters ?? []), ...(operation.parameters ?? [])] as Json[]
  let path = template
  const query = new URLSearchParams()
  const headers: Record<string, string> = {}
  for (const parameter of parameters) {
    const value = requestSample(parameter.schema ?? { type: 'string' })
    if (parameter.in === 'path') path = path.replace(`{${parameter.name}}`, encodeURIComponent(String(value)))
    else if (parameter.in === 'query') {
      if (Array.isArray(value)) for (const item of value) query.append(parameter.name, String(item))
      else query.append(parameter.name, String(value))
    } else if (parameter.in === 'header') headers[parameter.name] = String(value)
  }
  let body: string | Buffer | undefined
  const content = operation.requestBody?.content as Json | undefined
  if (content) {
    const [mediaType] = Object.keys(content)
    headers['content-type'] = mediaType!
    if (mediaType === 'application/json') body = JSON.stringify(requestSample(content[mediaType].schema))
    else body = Buffer.from('raw bytes')
  }
  const search = query.size > 0 ? `?${query}` : ''
  return { method: method.toUpperCase(), path: `${path}${search}`, headers, body }
}

async function send(gateway: TestGateway, base: string, call: Call) {
  const response = await request(`${gateway.url}${base}${call.path}`, {
    method: call.method as 'GET',
    headers: call.headers,
    body: call.body ?? null,
    headersTimeout: 5000,
    bodyTimeout: 5000,
  })
  return { status: response.statusCode, headers: response.headers, text: await response.body.text() }
}

describe('prototype endpoints from OpenAPI documents', () => {
  let gateway: TestGateway
  const bases = new Map<string, string>()

  before(async () => {
    // The config is what `portico import openapi` writes, for each document.
    const apis: string[] = []
    for (const fixture of FIXTURES) {
      const { yaml } = await importOpenApi(fixture.file, { context: fixture.context })
      const config = parseConfig(yaml, 'imported.yaml')
      const api = config.apis[0]!
      assert.equal(api.lifecycle, 'CREATED')
      bases.set(fixture.file, `${fixture.context}/${api.version}`)
      apis.push(yaml.slice(yaml.indexOf('apis:\n') + 'apis:\n'.length))
    }
    gateway = await startGateway(`apis:\n${apis.join('')}`)
  })

  after(async () => {
    await gateway.close()
  })

  test('import turns every path into a resource with its methods, in CREATED state', async () => {
    const config = parseConfig((await importOpenApi('test/fixtures/openapi/swagger-petstore-3.0.yaml')).yaml, 'x.yaml')
    const api = config.apis[0]!
    assert.equal(api.name, 'Swagger Petstore - OpenAPI 3.0')
    assert.equal(api.context, '/swagger-petstore-openapi-3-0')
    assert.equal(api.version, '1.0.26-SNAPSHOT')
    assert.equal(api.lifecycle, 'CREATED')
    assert.equal(api.resources.length, 13)
    assert.deepEqual(api.resources.find((resource) => resource.uriTemplate === '/pet/{petId}')?.methods, ['GET', 'POST', 'DELETE'])
    assert.equal(api.endpoints.production?.type, 'prototype')
  })

  for (const fixture of FIXTURES) {
    test(`every operation of ${fixture.file} answers a documented status with a body that validates`, async () => {
      const { document, compile } = await independentReader(fixture.file)
      const base = bases.get(fixture.file)!
      let operations = 0
      for (const [template, pathItem] of Object.entries(document.paths as Json)) {
        for (const method of ['get', 'put', 'post', 'delete', 'patch']) {
          const operation = (pathItem as Json)[method] as Json | undefined
          if (!operation) continue
          operations++
          const call = validCall(method, template, pathItem as Json, operation)
          const response = await send(gateway, base, call)
          const where = `${call.method} ${call.path}`
          const documented = operation.responses[String(response.status)] ?? operation.responses.default
          assert.ok(documented, `${where}: status ${response.status} is not documented (${response.text})`)
          const lowestSuccess = Object.keys(operation.responses).filter((key) => /^2\d\d$/.test(key)).sort()[0]
          if (lowestSuccess) assert.equal(String(response.status), lowestSuccess, `${where}: answers the lowest 2xx`)
          for (const [header, description] of Object.entries((documented.headers ?? {}) as Json)) {
            const value = response.headers[header.toLowerCase()]
            assert.ok(typeof value === 'string', `${where}: documented header ${header} is sent`)
            if (description.schema) {
              const typed = description.schema.type === 'integer' || description.schema.type === 'number' ? Number(value) : value
              const validate = compile(description.schema)
              assert.ok(validate(typed), `${where}: header ${header}: ${value} fails its schema: ${JSON.stringify(validate.errors)}`)
            }
          }
          const content = documented.content as Json | undefined
          if (!content) {
            assert.equal(response.text, '', `${where}: no documented content, no body`)
            continue
          }
          const contentType = String(response.headers['content-type'])
          assert.ok(contentType in content, `${where}: content-type ${contentType} is documented`)
          const schema = content[contentType].schema
          if (contentType.endsWith('json') && schema) {
            const validate = compile(schema)
            const body = JSON.parse(response.text)
            assert.ok(validate(body), `${where}: ${response.text} fails the document's schema: ${JSON.stringify(validate.errors)}`)
          }
        }
      }
      assert.ok(operations >= 3, 'the document has operations')
    })
  }

  test('Accept selects among documented media types; one the operation lacks is 406', async () => {
    const base = bases.get('test/fixtures/openapi/swagger-petstore-3.0.yaml')!
    const xml = await send(gateway, base, { method: 'GET', path: '/pet/7', headers: { accept: 'application/xml' }, body: undefined })
    assert.equal(xml.status, 200)
    assert.equal(xml.headers['content-type'], 'application/xml')
    assert.match(xml.text, /^<pet>[\s\S]*<name>doggie<\/name>[\s\S]*<\/pet>/)
    const none = await send(gateway, base, { method: 'GET', path: '/pet/7', headers: { accept: 'image/png' }, body: undefined })
    assert.equal(none.status, 406)
    assert.equal(JSON.parse(none.text).code, 'PROTOTYPE_NOT_ACCEPTABLE')
  })

  test('Prefer: code and example select a documented response and a named example', async () => {
    const base = bases.get('test/fixtures/openapi/tictactoe-3.1.yaml')!
    const put = (prefer: string) =>
      send(gateway, base, { method: 'PUT', path: '/board/1/2', headers: { 'content-type': 'application/json', prefer }, body: '"X"' })
    const notEmpty = await put('code=400, example=notEmpty')
    assert.equal(notEmpty.status, 400)
    assert.equal(notEmpty.headers['content-type'], 'text/html')
    assert.equal(notEmpty.text, 'Square is not empty.')
    const firstExample = await put('code=400')
    assert.equal(firstExample.text, 'Illegal coordinates.')
    const single = await send(gateway, base, { method: 'GET', path: '/board/3/3', headers: { prefer: 'code=400' }, body: undefined })
    assert.equal(single.text, 'Illegal coordinates')
    const unknownExample = await put('code=400, example=nope')
    assert.equal(unknownExample.status, 400)
    assert.equal(JSON.parse(unknownExample.text).code, 'PROTOTYPE_PREFER_UNSATISFIED')
    assert.match(JSON.parse(unknownExample.text).message, /no example "nope"; it has illegalCoordinates, notEmpty, invalidMark/)
    const unknownCode = await put('code=418')
    assert.equal(unknownCode.status, 400)
    assert.match(JSON.parse(unknownCode.text).message, /documents no response 418; it has 200, 400/)
  })

  test('Prefer: code falls back to the default response, with that status, and its schema holds', async () => {
    const base = bases.get('test/fixtures/openapi/petstore-3.0.yaml')!
    const { document, compile } = await independentReader('test/fixtures/openapi/petstore-3.0.yaml')
    const response = await send(gateway, base, { method: 'GET', path: '/pets', headers: { prefer: 'code=503' }, body: undefined })
    assert.equal(response.status, 503)
    const validate = compile(document.paths['/pets'].get.responses.default.content['application/json'].schema)
    assert.ok(validate(JSON.parse(response.text)), response.text)
    const notFound = await send(gateway, bases.get('test/fixtures/openapi/swagger-petstore-3.0.yaml')!, {
      method: 'GET', path: '/pet/7', headers: { prefer: 'code=404' }, body: undefined,
    })
    assert.equal(notFound.status, 404)
    assert.equal(notFound.text, '')
  })

  test('invalid requests get 400 (parameters), 415 (media type) or 422 (body) with every problem listed', async () => {
    const tictactoe = bases.get('test/fixtures/openapi/tictactoe-3.1.yaml')!
    const store = bases.get('test/fixtures/openapi/swagger-petstore-3.0.yaml')!
    // Accepting JSON only, so that the gateway's own answer is chosen over a documented text/html refusal.
    const problems = async (path: string, base: string, init: Partial<Call> = {}) => {
      const response = await send(gateway, base, { method: 'GET', path, body: undefined, ...init, headers: { accept: 'application/json', ...init.headers } })
      const body = JSON.parse(response.text)
      if (response.status >= 400) assert.equal(body.code, 'PROTOTYPE_REQUEST_INVALID')
      return { status: response.status, errors: body.errors as Array<{ in: string; name: string; message: string }> }
    }

    const outOfRange = await problems('/board/4/0', tictactoe)
    assert.equal(outOfRange.status, 400)
    assert.deepEqual(outOfRange.errors, [
      { in: 'path', name: 'row', message: 'must be <= 3' },
      { in: 'path', name: 'column', message: 'must be >= 1' },
    ])
    assert.deepEqual((await problems('/pet/abc', store)).errors, [{ in: 'path', name: 'petId', message: 'must be integer' }])
    assert.deepEqual((await problems('/pet/findByStatus?status=lost', store)).errors, [
      { in: 'query', name: 'status', message: 'must be equal to one of the allowed values' },
    ])

    const json = { 'content-type': 'application/json' }
    const badMark = await problems('/board/1/1', tictactoe, { method: 'PUT', headers: json, body: '"Z"' })
    assert.equal(badMark.status, 422)
    assert.deepEqual(badMark.errors, [{ in: 'body', name: '', message: 'must be equal to one of the allowed values' }])
    const missing = await problems('/pet', store, { method: 'POST', headers: json, body: '{"id":"x"}' })
    assert.equal(missing.status, 422)
    assert.deepEqual(
      missing.errors.map((error) => `${error.name} ${error.message}`).sort(),
      ['/id must be integer', '/name is required', '/photoUrls is required'],
    )
    const form = await problems('/pet', store, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=rex&photoUrls=a&status=lost' })
    assert.deepEqual(form.errors, [{ in: 'body', name: '/status', message: 'must be equal to one of the allowed values' }])
    const goodForm = await problems('/pet', store, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'id=3&name=rex&photoUrls=a' })
    assert.equal(goodForm.status, 200)

    const broken = await problems('/pet', store, { method: 'POST', headers: json, body: '{"name": ' })
    assert.equal(broken.status, 400)
    assert.match(broken.errors[0]!.message, /^is not valid JSON/)
    const wrongType = await problems('/pet', store, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'a,b' })
    assert.equal(wrongType.status, 415)
    assert.match(wrongType.errors[0]!.message, /text\/csv is not one of application\/json, application\/xml, application\/x-www-form-urlencoded/)
    const noBody = await problems('/board/1/1', tictactoe, { method: 'PUT', headers: json })
    assert.equal(noBody.status, 422)
    assert.deepEqual(noBody.errors, [{ in: 'body', name: '', message: 'a request body is required' }])
  })

  test('a method the document does not define for a path is 501 naming the ones it does; validation can be turned off', async () => {
    // The imported resources only accept documented methods, so this reaches the prototype through a resource
    // that accepts everything.
    const yaml = `
apis:
  - name: Loose
    context: /loose
    version: v1
    lifecycle: PROTOTYPED
    endpoints:
      production: { type: prototype, openapi: test/fixtures/openapi/petstore-3.0.yaml, validateRequests: false }
`
    const loose = await startGateway(yaml)
    try {
      const response = await send(loose, '/loose/v1', { method: 'DELETE', path: '/pets', headers: {}, body: undefined })
      assert.equal(response.status, 501)
      assert.match(JSON.parse(response.text).message, /no DELETE operation for \/pets; it has GET, POST/)
      const unchecked = await send(loose, '/loose/v1', { method: 'GET', path: '/pets?limit=lots', headers: {}, body: undefined })
      assert.equal(unchecked.status, 200, 'validateRequests: false lets an invalid request through')
      const nowhere = await send(loose, '/loose/v1', { method: 'GET', path: '/owners', headers: {}, body: undefined })
      assert.equal(nowhere.status, 501)
      assert.equal(JSON.parse(nowhere.text).code, 'PROTOTYPE_NO_RESPONSE')
    } finally {
      await loose.close()
    }
  })

  test('a schema example that breaks its schema is replaced where it breaks it, the others kept; binary bodies are empty', async () => {
    // A `$ref` with a sibling example (OpenAPI 3.1) that is no `date`, beside a pattern only the example satisfies.
    const dir = await mkdtemp(join(tmpdir(), 'portico-openapi-'))
    const file = join(dir, 'hours.yaml')
    await writeFile(
      file,
      `openapi: 3.1.0
info: { title: Hours, version: '1' }
paths:
  /hours:
    get:
      responses:
        '200':
          description: opening hours
          content: { application/json: { schema: { type: array, items: { $ref: '#/components/schemas/Day' } } } }
  /ticket:
    get:
      responses:
        '200':
          description: a ticket image
          content: { image/png: { schema: { type: string, format: binary } } }
components:
  schemas:
    Date: { type: string, format: date }
    Day:
      type: object
      required: [date, opens]
      properties:
        date: { $ref: '#/components/schemas/Date', example: 02-02-2022 }
        opens: { type: string, pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', example: '09:00' }
`,
    )
    const hours = await startGateway(`
apis:
  - name: Hours
    context: /hours
    version: v1
    lifecycle: PROTOTYPED
    endpoints: { production: { type: prototype, openapi: "${file}" } }
`)
    try {
      const day = await send(hours, '/hours/v1', { method: 'GET', path: '/hours', headers: {}, body: undefined })
      assert.equal(day.status, 200)
      const [first] = JSON.parse(day.text) as { date: string; opens: string }[]
      assert.match(first!.date, /^\d{4}-\d{2}-\d{2}$/, 'the broken date example is replaced by a valid date')
      assert.equal(first!.opens, '09:00', 'the valid example is kept (a sample without it would not match the pattern)')
      const ticket = await send(hours, '/hours/v1', { method: 'GET', path: '/ticket', headers: {}, body: undefined })
      assert.equal(ticket.status, 200)
      assert.equal(ticket.headers['content-type'], 'image/png')
      assert.equal(ticket.text, '')
    } finally {
      await hours.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('HEAD is answered from GET without a body', async () => {
    const base = bases.get('test/fixtures/openapi/petstore-3.0.yaml')!
    const response = await send(gateway, base, { method: 'HEAD', path: '/pets/1', headers: {}, body: undefined })
    assert.equal(response.status, 200)
    assert.equal(response.headers['content-type'], 'application/json')
    assert.ok(Number(response.headers['content-length']) > 0)
    assert.equal(response.text, '')
  })
})

describe('prototype lifecycle and promotion', () => {
  let backend: TestBackend

  before(async () => {
    backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ real: true, url: req.url }))
    })
  })

  after(async () => {
    await backend.close()
  })

  const api = (lifecycle: string, endpoint: string) => `
apis:
  - name: Pets
    context: /pets
    version: v1
    lifecycle: ${lifecycle}
    resources:
      - { uriTemplate: /pets, methods: [GET, POST] }
      - { uriTemplate: "/pets/{petId}", methods: [GET] }
    endpoints:
      production: ${endpoint}
`
  const prototype = '{ type: prototype, name: pets-prototype, openapi: test/fixtures/openapi/petstore-3.0.yaml }'

  test('a published API refuses its prototype endpoint with 503 PROTOTYPE_NOT_SERVED', async () => {
    const gateway = await startGateway(api('PUBLISHED', prototype))
    try {
      const response = await send(gateway, '/pets/v1', { method: 'GET', path: '/pets/1', headers: {}, body: undefined })
      assert.equal(response.status, 503)
      assert.equal(JSON.parse(response.text).code, 'PROTOTYPE_NOT_SERVED')
    } finally {
      await gateway.close()
    }
  })

  test('swapping in a real endpoint and publishing keeps the resources and reaches the backend', async () => {
    const gateway = await startGateway(api('PROTOTYPED', prototype))
    try {
      const mock = await send(gateway, '/pets/v1', { method: 'GET', path: '/pets/1', headers: {}, body: undefined })
      assert.equal(mock.status, 200)
      assert.deepEqual(Object.keys(JSON.parse(mock.text)).sort(), ['id', 'name', 'tag'])

      const endpoints = await request(`${gateway.adminUrl}/admin/endpoints`).then((response) => response.body.json() as Promise<Json>)
      const shown = endpoints.endpoints.find((endpoint: Json) => endpoint.id === 'pets-prototype')
      assert.equal(shown.type, 'prototype')
      assert.equal(shown.state, 'active')
      assert.equal(shown.operations, 3)
      const metrics = await request(`${gateway.adminUrl}/metrics`).then((response) => response.body.text())
      assert.match(metrics, /portico_upstream_duration_seconds_count\{[^}]*endpoint="pets-prototype"[^}]*\} 1/)

      await gateway.instance.gateway.reload(parseConfig(api('PUBLISHED', `{ type: http, url: "${backend.url}" }`), 'next.yaml'))
      const real = await send(gateway, '/pets/v1', { method: 'GET', path: '/pets/1', headers: {}, body: undefined })
      assert.equal(real.status, 200)
      assert.deepEqual(JSON.parse(real.text), { real: true, url: '/pets/1' })
    } finally {
      await gateway.close()
    }
  })
})

describe('portico import openapi', () => {
  const run = promisify(execFile)
  let dir: string

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portico-import-'))
  })

  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  test('writes a config that portico validate accepts', async () => {
    const out = join(dir, 'petstore.yaml')
    await run(process.execPath, ['src/cli.ts', 'import', 'openapi', 'test/fixtures/openapi/petstore-3.0.yaml', '-o', out], { timeout: 20_000 })
    assert.match(await readFile(out, 'utf8'), /lifecycle: CREATED/)
    const { stdout } = await run(process.execPath, ['src/cli.ts', 'validate', out], { timeout: 20_000 })
    assert.match(stdout, /is valid: 1 API\(s\)/)
  })

  test('refuses a document that is not OpenAPI, saying why', async () => {
    const other = join(dir, 'other.yaml')
    await writeFile(other, 'asyncapi: 2.6.0\ninfo: { title: Events, version: "1" }\nchannels: {}\n')
    await assert.rejects(run(process.execPath, ['src/cli.ts', 'import', 'openapi', other], { timeout: 20_000 }), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1)
      assert.match(error.stderr, /is not an OpenAPI 3.0 or 3.1 \(or Swagger 2.0\) document/)
      return true
    })
  })

  test('--backend: the first server (variables at their defaults) is the endpoint, and the API reaches it', async () => {
    const backend = await startBackend((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ url: req.url }))
    })
    try {
      const document = (await readFile('test/fixtures/openapi/petstore-3.0.yaml', 'utf8')).replace(
        '  - url: http://petstore.swagger.io/v1',
        `  - url: http://127.0.0.1:{port}/{base}\n    variables:\n      port: { default: "${backend.port}" }\n      base: { default: v1 }`,
      )
      const file = join(dir, 'petstore-servers.yaml')
      await writeFile(file, document)
      const { yaml } = await importOpenApi(file, { backend: true, context: '/petstore' })
      const api = parseConfig(yaml, 'x.yaml').apis[0]!
      assert.deepEqual(api.endpoints.production, api.endpoints.sandbox)
      assert.equal((api.endpoints.production as { url: string }).url, `http://127.0.0.1:${backend.port}/v1`)
      const gateway = await startGateway(yaml.replace('lifecycle: CREATED', 'lifecycle: PUBLISHED'))
      try {
        const response = await request(`${gateway.url}/petstore/1.0.0/pets?limit=2`)
        assert.equal(response.statusCode, 200)
        assert.deepEqual(await response.body.json(), { url: '/v1/pets?limit=2' })
      } finally {
        await gateway.close()
      }
    } finally {
      await backend.close()
    }
  })

  test("--backend: WSO2's x-wso2-production-endpoints win over servers; several URLs are a failover or load-balance group", async () => {
    const base = (await readFile('test/fixtures/openapi/petstore-3.0.yaml', 'utf8')).replace(
      'paths:',
      'x-wso2-production-endpoints:\n  urls: [ "http://10.0.0.1:8080/v1", "http://10.0.0.2:8080/v1" ]\n  type: failover\n' +
        'x-wso2-sandbox-endpoints:\n  urls: [ "http://sandbox.internal/v1" ]\npaths:',
    )
    const file = join(dir, 'petstore-wso2.yaml')
    await writeFile(file, base)
    const api = parseConfig((await importOpenApi(file, { backend: true })).yaml, 'x.yaml').apis[0]!
    assert.deepEqual(
      { type: api.endpoints.production!.type, urls: (api.endpoints.production as unknown as { endpoints: Array<{ url: string }> }).endpoints.map((leaf) => leaf.url) },
      { type: 'failover', urls: ['http://10.0.0.1:8080/v1', 'http://10.0.0.2:8080/v1'] },
    )
    assert.equal((api.endpoints.sandbox as { url: string }).url, 'http://sandbox.internal/v1')
    await writeFile(file, base.replace('type: failover', 'type: roundrobin'))
    await assert.rejects(importOpenApi(file, { backend: true }), /x-wso2-production-endpoints: type "roundrobin" is not loadbalance or failover/)
    // A relative server names no backend: said, with what to do.
    await assert.rejects(importOpenApi('test/fixtures/openapi/swagger-petstore-3.0.yaml', { backend: true }), /names no backend: .*without --backend the API is a prototype$/)
  })

  test('a WSDL, a GraphQL schema and broken YAML are refused in one line each, never with an internal error', async () => {
    const graphql = join(dir, 'products.graphql')
    await writeFile(graphql, 'schema {\n  query: Query\n}\ntype Query {\n  products: [String]\n}\n')
    const broken = join(dir, 'broken.yaml')
    await writeFile(broken, 'openapi: 3.0.0\ninfo: { title: x, version: "1" }\npaths: [unclosed\n')
    const cases: Array<[string, RegExp]> = [
      ['test/fixtures/soap/calculator11.wsdl', /calculator11\.wsdl is not an OpenAPI 3\.0 or 3\.1 \(or Swagger 2\.0\) document$/],
      [graphql, /products\.graphql is not an OpenAPI 3\.0 or 3\.1 \(or Swagger 2\.0\) document$/],
      [broken, /broken\.yaml is not YAML or JSON: /],
    ]
    for (const [file, expected] of cases) {
      await assert.rejects(importOpenApi(file), (error: Error) => {
        assert.match(error.message, expected, file)
        assert.doesNotMatch(error.message, /Cannot read properties|undefined|null/, file)
        return true
      })
    }
  })

  test('a Swagger 2.0 document is upgraded to OpenAPI 3.0 and served the same way', async () => {
    const file = 'test/fixtures/openapi/petstore-swagger-2.0.yaml'
    const gateway = await startGateway((await importOpenApi(file, { context: '/swagger2' })).yaml)
    try {
      // Checked against the 2.0 document itself, read independently: `definitions`, not `components`.
      const swagger = (await $RefParser.dereference(file)) as Json
      const ajv = new Ajv({ strict: false })
      addFormats.default(ajv)
      for (const name of ['int32', 'int64']) ajv.addFormat(name, true)
      const list = await send(gateway, '/swagger2/1.0.0', { method: 'GET', path: '/pets?limit=3', headers: {}, body: undefined })
      assert.equal(list.status, 200)
      assert.equal(list.headers['content-type'], 'application/json')
      assert.ok(list.headers['x-next'] !== undefined)
      assert.ok(ajv.validate(swagger.definitions.Pets, JSON.parse(list.text)), list.text)
      const created = await send(gateway, '/swagger2/1.0.0', { method: 'POST', path: '/pets', headers: {}, body: undefined })
      assert.equal(created.status, 201)
      const failed = await send(gateway, '/swagger2/1.0.0', { method: 'GET', path: '/pets/1', headers: { prefer: 'code=500' }, body: undefined })
      assert.equal(failed.status, 500)
      assert.ok(ajv.validate(swagger.definitions.Error, JSON.parse(failed.text)), failed.text)
      const invalid = await send(gateway, '/swagger2/1.0.0', { method: 'GET', path: '/pets?limit=many', headers: {}, body: undefined })
      assert.equal(invalid.status, 400)
    } finally {
      await gateway.close()
    }
  })

  test('an endpoint whose document cannot be read answers 503 PROTOTYPE_UNAVAILABLE and shows why', async () => {
    // The file is a document when the config is checked, and no longer one when the endpoint reads it.
    const broken = join(dir, 'broken.yaml')
    await writeFile(broken, `openapi: 3.0.3\ninfo: { title: Broken, version: "1" }\npaths: {}\n`)
    const parsed = parseConfig(`
apis:
  - name: Broken
    context: /broken
    version: v1
    lifecycle: CREATED
    resources: [{ uriTemplate: /a }]
    endpoints:
      production: { type: prototype, name: broken-prototype, openapi: "${broken}" }
`, 'broken.yaml')
    await writeFile(broken, 'openapi: 3.0.3\npaths: [not, closed\n')
    const instance = await PorticoInstance.start(
      { ...parsed, listeners: [{ ...parsed.listeners[0]!, host: '127.0.0.1', port: 0 }], admin: { ...parsed.admin, host: '127.0.0.1', port: 0 } },
      { logger: createLogger('silent') },
    )
    const gateway = { url: instance.gateway.addresses()[0]!.url, adminUrl: instance.admin!.url, close: () => instance.close() }
    try {
      const response = await request(`${gateway.url}/broken/v1/a`, { headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(response.statusCode, 503)
      const body = (await response.body.json()) as { code: string; message: string }
      assert.equal(body.code, 'PROTOTYPE_UNAVAILABLE')
      assert.match(body.message, /broken\.yaml/)
      // Once the failure is known, later requests get the same answer, not a generic ENDPOINT_UNAVAILABLE.
      for (let attempt = 0; attempt < 2; attempt++) {
        const again = await request(`${gateway.url}/broken/v1/a`, { headersTimeout: 5000, bodyTimeout: 5000 })
        assert.equal(again.statusCode, 503)
        assert.equal(((await again.body.json()) as { code: string }).code, 'PROTOTYPE_UNAVAILABLE')
      }
      const endpoints = (await request(`${gateway.adminUrl}/admin/endpoints`).then((r) => r.body.json())) as { endpoints: Json[] }
      const shown = endpoints.endpoints.find((endpoint) => endpoint.id === 'broken-prototype')!
      assert.equal(shown.state, 'failed')
      assert.match(shown.error, /broken\.yaml/)
    } finally {
      await gateway.close()
    }
  })
})
