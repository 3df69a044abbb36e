import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, test } from 'node:test'
import pino from 'pino'
import type { Exchange } from '../src/core/endpoint.ts'
import { compileSequence } from '../src/mediation/compile.ts'
import { MediationContext } from '../src/mediation/context.ts'
import { Payload } from '../src/mediation/payload.ts'
import type { MediatorConfig } from '../src/mediation/schema.ts'
import { ValueTemplate } from '../src/mediation/template.ts'

function exchange(overrides: Partial<Exchange> = {}): Exchange {
  return {
    requestId: 'req-00000001',
    method: 'POST',
    path: '/orders/7',
    basePath: '/orders/v1',
    query: 'a=1&a=2&b=x%20y',
    uriVariables: { id: '7' },
    headers: ['Content-Type', 'text/xml', 'X-Tenant', 'acme', 'x-tenant', 'beta'],
    body: null,
    route: { apiName: 'orders', apiVersion: 'v1', uriTemplate: '/orders/{id}' },
    environment: 'production',
    properties: new Map(),
    target: undefined,
    client: { address: '192.0.2.1', protocol: 'http', host: 'gw' },
    ...overrides,
  }
}

/** A real pino logger writing JSON lines into an array. */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { logger: pino({ level: 'info' }, sink), lines }
}

function run(mediators: MediatorConfig[], target: Exchange, body?: string) {
  const { logger, lines } = capturingLogger()
  const sequence = compileSequence(mediators)
  const context = new MediationContext(target, undefined, body === undefined ? undefined : new Payload(Buffer.from(body), 65_536), logger)
  sequence.run(context)
  return { context, lines, readsPayload: sequence.readsPayload }
}

describe('mediation sequences, mediator by mediator', () => {
  test('expressions see the query (first value), headers (joined, lower-case) and URI variables', () => {
    const target = exchange()
    run(
      [
        { property: { name: 'a', expression: 'request.query.a' } },
        { property: { name: 'b', expression: 'request.query.b' } },
        { property: { name: 'tenant', expression: "request.headers['x-tenant']" } },
        { property: { name: 'id', expression: 'request.uriVariables.id' } },
        { property: { name: 'client', expression: 'request.client.address' } },
        { property: { name: 'api', expression: "api.name + ':' + api.version + ' ' + environment" } },
      ],
      target,
    )
    assert.deepEqual(Object.fromEntries(target.properties), { a: '1', b: 'x y', tenant: 'acme, beta', id: '7', client: '192.0.2.1', api: 'orders:v1 production' })
  })

  test('a header change is visible to the expressions after it', () => {
    const target = exchange()
    run(
      [
        { header: { name: 'X-Tenant', value: 'gamma' } },
        { property: { name: 'tenant', expression: "request.headers['x-tenant']" } },
        { header: { name: 'Content-Type', remove: true } },
        { property: { name: 'typed', expression: "'content-type' in request.headers" } },
      ],
      target,
    )
    assert.deepEqual(target.headers, ['X-Tenant', 'gamma'])
    assert.equal(target.properties.get('tenant'), 'gamma')
    assert.equal(target.properties.get('typed'), false)
  })

  test('an expression that fails leaves the property unset and takes the else branch', () => {
    const target = exchange()
    run(
      [
        { property: { name: 'missing', expression: "request.headers['x-none']" } },
        { filter: { if: "request.headers['x-none'] == 'a'", then: [{ property: { name: 'branch', value: 'then' } }], else: [{ property: { name: 'branch', value: 'else' } }] } },
      ],
      target,
    )
    assert.equal(target.properties.has('missing'), false)
    assert.equal(target.properties.get('branch'), 'else')
  })

  test('XPath reads properties as $ctx:name and the SOAP 1.2 body as $body', () => {
    const target = exchange()
    target.properties.set('wanted', 'IBM')
    const soap12 = '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><q:getQuote xmlns:q="urn:q"><q:symbol>IBM</q:symbol></q:getQuote></e:Body></e:Envelope>'
    const { readsPayload } = run(
      [
        { property: { name: 'symbol', xpath: '$body/q:getQuote/q:symbol', namespaces: { q: 'urn:q' } } },
        { filter: { xpath: '$body//q:symbol = $ctx:wanted', namespaces: { q: 'urn:q' }, then: [{ property: { name: 'match', value: true } }], else: [] } },
      ],
      target,
      soap12,
    )
    assert.equal(readsPayload, true)
    assert.equal(target.properties.get('symbol'), 'IBM')
    assert.equal(target.properties.get('match'), true)
  })

  test('JSONPath gives one value, a list for several matches, nothing for none or a non-JSON body', () => {
    const target = exchange()
    const mediators: MediatorConfig[] = [
      { property: { name: 'one', jsonPath: '$.items[0].id' } },
      { property: { name: 'all', jsonPath: '$.items[*].id' } },
      { property: { name: 'none', jsonPath: '$.nothing' } },
    ]
    run(mediators, target, '{"items":[{"id":1},{"id":2}]}')
    assert.deepEqual(Object.fromEntries(target.properties), { one: 1, all: [1, 2] })
    const other = exchange()
    run(mediators, other, '<not-json/>')
    assert.equal(other.properties.size, 0)
  })

  test('a sequence without JSONPath or XPath does not read the payload', () => {
    assert.equal(compileSequence([{ property: { name: 'a', expression: 'request.method' } }, { setTarget: 'http://x/{a}' }]).readsPayload, false)
    assert.equal(compileSequence([{ filter: { if: 'true', then: [{ property: { name: 'a', jsonPath: '$.a' } }], else: [] } }]).readsPayload, true)
  })

  test('log writes one line with the request id, the API and the values', () => {
    const target = exchange()
    const { lines } = run([{ log: { level: 'warn', message: 'routing', values: { method: { expression: 'request.method' }, fixed: { value: 3 } } } }], target)
    assert.equal(lines.length, 1)
    assert.equal(lines[0]!.level, 40)
    assert.equal(lines[0]!.msg, 'routing')
    assert.equal(lines[0]!.requestId, 'req-00000001')
    assert.equal(lines[0]!.api, 'orders:v1')
    assert.deepEqual(lines[0]!.mediation, { method: 'POST', fixed: 3 })
  })

  test('respond stops the sequence: nothing after it runs', () => {
    const target = exchange()
    const { context } = run([{ respond: { status: 418, headers: {}, body: 'tea for {id}' } }, { property: { name: 'after', value: 1 } }], target)
    assert.equal(context.reply?.status, 418)
    assert.equal(context.reply?.body.toString(), 'tea for 7')
    assert.deepEqual(context.reply?.headers, ['content-type', 'text/plain; charset=utf-8'])
    assert.equal(target.properties.has('after'), false)
  })
})

describe('value templates', () => {
  const properties = new Map<string, unknown>([
    ['host', 'http://10.0.0.1:8080/base'],
    ['name', 'a b/c'],
    ['list', [1, 2]],
  ])

  test('{name} is encoded as a component, {+name} keeps reserved characters, {uri.var.x} is the URI variable', () => {
    assert.equal(new ValueTemplate('{+host}/items/{name}').expand(properties, {}), 'http://10.0.0.1:8080/base/items/a%20b%2Fc')
    assert.equal(new ValueTemplate('/x/{uri.var.name}/{id}').expand(properties, { name: 'uri', id: '5' }), '/x/uri/5')
    assert.equal(new ValueTemplate('{list}|{unset}|').expand(properties, {}, false), '[1,2]||')
  })

  test('a stray brace is an error for addresses and paths, text for bodies', () => {
    assert.throws(() => new ValueTemplate('http://{host'), /malformed variable/)
    assert.equal(new ValueTemplate('{"a":"{name}"}', false).expand(properties, {}, false), '{"a":"a b/c"}')
  })
})
