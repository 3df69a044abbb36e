import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { request } from 'undici'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const CONFIG = `
apis:
  - name: PizzaShack
    context: /pizzashack
    version: 1.0.0
    lifecycle: CREATED
    resources:
      - { uriTemplate: /menu, methods: [GET] }
      - { uriTemplate: "/menu/{itemId}", methods: [GET, DELETE] }
      - { uriTemplate: /slow, methods: [GET] }
      - { uriTemplate: /pets, methods: [GET, POST] }
      - { uriTemplate: /unanswered }
    endpoints:
      production:
        type: prototype
        name: pizzashack-prototype
        openapi: test/fixtures/openapi/petstore-3.0.yaml
        resources:
          - uriTemplate: /menu
            responses:
              - when: { query: { veg: ["true", "yes"] } }
                body: [{ name: Garden Veggie, price: "11.99" }]
              - when: { headers: { X-Case: empty } }
                status: 204
              - file: test/fixtures/prototype/menu.json
                headers: { Cache-Control: max-age=60 }
          - uriTemplate: "/menu/{itemId}"
            methods: [GET]
            responses:
              - when: { uriVariables: { itemId: "404" } }
                status: 404
                body: { code: 404, message: no such item }
              - status: 200
                headers: { content-type: application/vnd.pizza+json }
                body: '{"name":"Chicken Parmesan"}'
          - uriTemplate: "/menu/{itemId}"
            methods: [DELETE]
            responses:
              - status: 202
                body: deleted
          - uriTemplate: /slow
            responses:
              - delay: 300ms
                body: finally
          - uriTemplate: /pets
            methods: [POST]
            responses:
              - status: 201
                body: { id: 1, name: from the static response }
`

describe('prototype endpoints with static responses', () => {
  let gateway: TestGateway

  before(async () => {
    gateway = await startGateway(CONFIG)
  })

  after(async () => {
    await gateway.close()
  })

  async function call(path: string, init: { method?: string; headers?: Record<string, string> } = {}) {
    const response = await request(`${gateway.url}/pizzashack/1.0.0${path}`, {
      method: (init.method ?? 'GET') as 'GET',
      headers: init.headers ?? {},
      headersTimeout: 5000,
      bodyTimeout: 5000,
    })
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() }
  }

  test('the first response whose conditions hold answers: query, header, then the unconditional one', async () => {
    const veg = await call('/menu?veg=yes')
    assert.equal(veg.status, 200)
    assert.equal(veg.headers['content-type'], 'application/json')
    assert.deepEqual(JSON.parse(veg.text), [{ name: 'Garden Veggie', price: '11.99' }])
    assert.deepEqual(JSON.parse((await call('/menu?veg=true')).text), [{ name: 'Garden Veggie', price: '11.99' }])

    const empty = await call('/menu', { headers: { 'x-case': 'empty' } })
    assert.equal(empty.status, 204)
    assert.equal(empty.text, '')

    const all = await call('/menu?veg=no')
    assert.equal(all.status, 200)
    assert.equal(all.headers['cache-control'], 'max-age=60')
    assert.equal(all.headers['content-type'], 'application/json', 'from the file extension')
    assert.equal(JSON.parse(all.text).length, 2)
    assert.ok(all.headers['x-request-id'], 'the gateway adds its headers as for any backend')
  })

  test('URI variables and methods select responses; configured headers win over defaults', async () => {
    const missing = await call('/menu/404')
    assert.equal(missing.status, 404)
    assert.deepEqual(JSON.parse(missing.text), { code: 404, message: 'no such item' })
    const found = await call('/menu/7')
    assert.equal(found.headers['content-type'], 'application/vnd.pizza+json')
    assert.equal(found.text, '{"name":"Chicken Parmesan"}')
    const deleted = await call('/menu/7', { method: 'DELETE' })
    assert.equal(deleted.status, 202)
    assert.equal(deleted.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(deleted.text, 'deleted')
  })

  test('a delay holds the response back without holding up other requests', async () => {
    const started = performance.now()
    const [slow, fast] = await Promise.all([call('/slow'), call('/menu/7')])
    const elapsed = performance.now() - started
    assert.equal(slow.text, 'finally')
    assert.equal(fast.status, 200)
    assert.ok(elapsed >= 290 && elapsed < 2000, `took ${elapsed} ms`)
  })

  test('static responses take precedence over the OpenAPI document, which answers the rest', async () => {
    const created = await call('/pets', { method: 'POST' })
    assert.equal(created.status, 201)
    assert.deepEqual(JSON.parse(created.text), { id: 1, name: 'from the static response' })
    const listed = await call('/pets?limit=2')
    assert.equal(listed.status, 200)
    assert.ok(Array.isArray(JSON.parse(listed.text)))
  })

  test('a request nothing answers is 501 PROTOTYPE_NO_RESPONSE, never a silent 200', async () => {
    const response = await call('/unanswered')
    assert.equal(response.status, 501)
    assert.equal(JSON.parse(response.text).code, 'PROTOTYPE_NO_RESPONSE')
  })

  test('a body larger than a prototype reads is 413', async () => {
    const response = await request(`${gateway.url}/pizzashack/1.0.0/pets`, {
      method: 'POST',
      body: Buffer.alloc(2 * 1024 * 1024, 'a'),
      headersTimeout: 5000,
      bodyTimeout: 5000,
    })
    assert.equal(response.statusCode, 413)
    assert.equal(((await response.body.json()) as { code: string }).code, 'PROTOTYPE_BODY_TOO_LARGE')
  })
})

describe('prototype endpoint config', () => {
  function problems(endpoint: string): string[] {
    const yaml = `
apis:
  - name: P
    context: /p
    version: v1
    lifecycle: CREATED
    resources: [{ uriTemplate: /a }]
    endpoints:
      production: ${endpoint}
`
    try {
      parseConfig(yaml, 'p.yaml')
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      return error.issues.map((issue) => `${issue.path}: ${issue.message}`)
    }
    return []
  }

  test('each mistake is named with its field path', () => {
    assert.deepEqual(problems('{ type: prototype }'), ['apis[0].endpoints.production: a prototype endpoint needs a backend "url", or "resources", "openapi" or both'])
    assert.deepEqual(problems('{ type: prototype, openapi: nowhere.yaml }'), ['apis[0].endpoints.production.openapi: file "nowhere.yaml" does not exist'])
    assert.deepEqual(problems('{ type: prototype, openapi: package.json }'), [
      'apis[0].endpoints.production.openapi: "package.json" is not an OpenAPI 3.0, 3.1 or Swagger 2.0 document (it has no "openapi: 3.0.x", "openapi: 3.1.x" or "swagger: 2.0" field)',
    ])
    assert.deepEqual(problems('{ type: prototype, openapi: README.md }'), [
      'apis[0].endpoints.production.openapi: cannot read "README.md" as YAML or JSON: Implicit map keys need to be followed by map values at line 4, column 1',
    ])
    assert.deepEqual(problems('{ type: prototype, resources: [{ uriTemplate: /menu, responses: [{ status: 200 }] }] }'), [
      'apis[0].endpoints.production.resources[0].uriTemplate: "/menu" is not one of the API\'s resources (/a)',
    ])
    assert.deepEqual(problems('{ type: prototype, resources: [{ uriTemplate: /a }] }'), [
      'apis[0].endpoints.production.resources[0]: give either "responses" or "script"',
    ])
    assert.deepEqual(problems('{ type: prototype, resources: [{ uriTemplate: /a, responses: [{ body: x, file: package.json }] }] }'), [
      'apis[0].endpoints.production.resources[0].responses[0]: give either "body" or "file", not both',
    ])
    assert.deepEqual(problems('{ type: prototype, resources: [{ uriTemplate: /a, responses: [{ status: 99, delay: soon }] }] }'), [
      'apis[0].endpoints.production.resources[0].responses[0].status: Too small: expected number to be >=200',
      'apis[0].endpoints.production.resources[0].responses[0].delay: must be a duration such as "250ms", "5s", "2m" or a number of milliseconds',
    ])
    assert.deepEqual(problems('{ type: prototype, scriptLimits: { time: forever }, resources: [{ uriTemplate: /a, script: "() => 1" }] }'), [
      'apis[0].endpoints.production.scriptLimits.time: must be a duration such as "250ms", "5s", "2m" or a number of milliseconds',
    ])
  })
})
