import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { after, before, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { request } from 'undici'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { loadConfigFile } from '../src/config/reader.ts'
import { LambdaEndpoint as LambdaEndpointSchema } from '../src/endpoints/schema.ts'
import { EndpointError, type Exchange } from '../src/core/endpoint.ts'
import { LambdaEndpoint } from '../src/endpoints/lambda.ts'
import { HandledError, ServiceError, startLambdaService, type LambdaService } from './support/lambda-service.ts'
import { startStsService, type StsService } from './support/sts-service.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const REGION = 'eu-west-1'
const KEY = { accessKeyId: 'AKIAPORTICOTEST00001', secretAccessKey: 'pOrTiCo/TeSt+SeCrEt/never-in-logs-0001' }
const ROLE_SOURCE_KEY = { accessKeyId: 'AKIAPORTICOSOURCE001', secretAccessKey: 'sOuRcE/SeCrEt+never-in-logs-0002' }
const ROLE_ARN = 'arn:aws:iam::123456789012:role/portico-invoker'
/** Temporary keys issued elsewhere: valid only with their session token. */
const SESSION_KEY = { accessKeyId: 'ASIAPORTICOSESSION01', secretAccessKey: 'sEsSiOn/SeCrEt+never-in-logs-0003', sessionToken: 'FwoGZXIvYXdzEPorticoSessionToken0001' }
const SECRETS = [KEY.secretAccessKey, ROLE_SOURCE_KEY.secretAccessKey, SESSION_KEY.secretAccessKey, SESSION_KEY.sessionToken]

/** The event the function received, which the `echo` functions send back. */
type Echo = Record<string, any>

function config(apis: object[]): string {
  return JSON.stringify({ apis })
}

function api(name: string, endpoint: object, resources: object[] = [{ uriTemplate: '/items/{itemId}' }, { uriTemplate: '/*' }]): object {
  return { name, context: `/${name}`, version: 'v1', resources, endpoints: { production: endpoint } }
}

describe('lambda endpoints', () => {
  let lambda: LambdaService
  let gateway: TestGateway
  let endpoint: (overrides?: object) => object

  before(async () => {
    lambda = await startLambdaService({
      region: REGION,
      keys: [KEY, SESSION_KEY],
      functions: {
        // A proxy-style result carrying the event, so tests see exactly what the function received.
        echo: (event) => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) }),
        other: () => ({ statusCode: 200, body: JSON.stringify({ function: 'other' }) }),
        plain: () => ({ menu: ['margherita', 'diavola'], count: 2 }),
        nothing: () => undefined,
        proxy: () => ({
          statusCode: 201,
          headers: { 'content-type': 'text/plain; charset=utf-8', 'x-single': 'one', 'x-number': 42, 'content-length': '999' },
          multiValueHeaders: { 'x-multi': ['a', 'b'], 'set-cookie': ['from-multi=1'] },
          cookies: ['session=abc; HttpOnly', 'theme=dark'],
          body: 'created',
        }),
        binary: (event) => ({
          statusCode: 200,
          headers: { 'content-type': 'application/octet-stream' },
          body: Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8').reverse().toString('base64'),
          isBase64Encoded: true,
        }),
        'no-content': () => ({ statusCode: 204, headers: { 'x-done': 'yes' } }),
        unhandled: () => {
          throw new TypeError('pizza.bake is not a function')
        },
        handled: () => {
          throw new HandledError('out of dough')
        },
        malformed: () => ({ statusCode: 200, body: { not: 'a string' } }),
        'bad-status': () => ({ statusCode: 'ok' }),
        interim: () => ({ statusCode: 101 }),
        'bad-header': () => ({ statusCode: 200, headers: { 'x-split': 'a\r\nx-injected: yes' } }),
        'bad-base64': () => ({ statusCode: 200, body: 'not base64!', isBase64Encoded: true }),
        slow: async () => {
          await sleep(1500)
          return { late: true }
        },
        throttled: () => {
          throw new ServiceError(429, 'TooManyRequestsException', 'Rate exceeded')
        },
        broken: () => {
          throw new ServiceError(500, 'ServiceException', 'Lambda was unable to handle the request')
        },
      },
    })
    endpoint = (overrides = {}) => ({
      type: 'lambda',
      function: 'echo',
      region: REGION,
      endpointUrl: lambda.url,
      credentials: { type: 'static', ...KEY },
      ...overrides,
    })
    gateway = await startGateway(
      config([
        api('v1', endpoint({ eventFormat: 'apigw-v1' }), [
          { uriTemplate: '/items/{itemId}' },
          // A resource-level endpoint names another function (WSO2 sets the function per resource the same way).
          { uriTemplate: '/special', endpoints: { production: endpoint({ function: 'other' }) } },
          { uriTemplate: '/*' },
        ]),
        api('v2', endpoint({ eventFormat: 'apigw-v2' })),
        api('wso2', endpoint({ eventFormat: 'wso2' })),
        ...['plain', 'nothing', 'proxy', 'binary', 'no-content', 'unhandled', 'handled', 'malformed', 'bad-status', 'interim', 'bad-header', 'bad-base64', 'throttled', 'broken'].map((name) =>
          api(name, endpoint({ function: name })),
        ),
        api('slow', endpoint({ function: 'slow', timeouts: { response: '300ms' } })),
        api('async', endpoint({ invocationType: 'Event' })),
        api('arn', endpoint({ function: `arn:aws:lambda:${REGION}:123456789012:function:echo`, region: undefined, qualifier: 'live' })),
        api('wrongkey', endpoint({ credentials: { type: 'static', accessKeyId: KEY.accessKeyId, secretAccessKey: 'not-the-secret' } })),
        api('unknownkey', endpoint({ credentials: { type: 'static', accessKeyId: 'AKIAUNKNOWNKEY000001', secretAccessKey: KEY.secretAccessKey } })),
        api('wrongregion', endpoint({ region: 'us-east-1' })),
        api('missing', endpoint({ function: 'no-such-function' })),
        api('session', endpoint({ function: 'plain', credentials: { type: 'static', ...SESSION_KEY } })),
        api('nosession', endpoint({ function: 'plain', credentials: { type: 'static', accessKeyId: SESSION_KEY.accessKeyId, secretAccessKey: SESSION_KEY.secretAccessKey } })),
      ]),
    )
  })

  after(async () => {
    await gateway?.close()
    await lambda?.close()
  })

  async function call(path: string, options: { method?: 'GET' | 'POST' | 'PUT'; headers?: Record<string, string | string[]>; body?: string | Buffer } = {}) {
    const response = await request(`${gateway.url}${path}`, { method: options.method ?? 'GET', headers: options.headers, body: options.body, headersTimeout: 10_000, bodyTimeout: 10_000 })
    const body = Buffer.from(await response.body.arrayBuffer())
    return { status: response.statusCode, headers: response.headers, body, text: body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) }
  }

  test('apigw-v1: the function receives a REST API proxy event', async () => {
    const response = await call('/v1/v1/items/42?size=large&topping=olive&topping=basil', { headers: { 'x-multi': ['one', 'two'], 'X-Case': 'Kept' } })
    assert.equal(response.status, 200)
    const event: Echo = response.json()
    assert.equal(event.resource, '/items/{itemId}')
    assert.equal(event.path, '/items/42')
    assert.equal(event.httpMethod, 'GET')
    assert.deepEqual(event.pathParameters, { itemId: '42' })
    assert.deepEqual(event.queryStringParameters, { size: 'large', topping: 'basil' })
    assert.deepEqual(event.multiValueQueryStringParameters, { size: ['large'], topping: ['olive', 'basil'] })
    assert.equal(event.headers['x-multi'], 'two')
    assert.deepEqual(event.multiValueHeaders['x-multi'], ['one', 'two'])
    assert.equal(event.headers['X-Case'], 'Kept')
    assert.match(event.headers.Host ?? event.headers.host, /^127\.0\.0\.1:\d+$/)
    assert.equal(event.body, null)
    assert.equal(event.isBase64Encoded, false)
    assert.equal(event.requestContext.stage, 'v1')
    assert.equal(event.requestContext.requestId, response.headers['x-request-id'])
    assert.equal(event.requestContext.identity.sourceIp, '127.0.0.1')
    assert.equal(lambda.invocations.at(-1)!.invocationType, 'RequestResponse')
  })

  test('apigw-v2: the function receives an HTTP API event with cookies apart and joined values', async () => {
    const response = await call('/v2/v1/items/7?a=1&a=2', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'c1=v1; c2=v2', 'x-multi': ['one', 'two'] },
      body: '{"order":1}',
    })
    assert.equal(response.status, 200)
    const event: Echo = response.json()
    assert.equal(event.version, '2.0')
    assert.equal(event.routeKey, 'POST /items/{itemId}')
    assert.equal(event.rawPath, '/items/7')
    assert.equal(event.rawQueryString, 'a=1&a=2')
    assert.deepEqual(event.cookies, ['c1=v1', 'c2=v2'])
    assert.equal(event.headers.cookie, undefined)
    assert.equal(event.headers['x-multi'], 'one,two')
    assert.deepEqual(event.queryStringParameters, { a: '1,2' })
    assert.deepEqual(event.pathParameters, { itemId: '7' })
    assert.equal(event.requestContext.http.method, 'POST')
    assert.equal(event.requestContext.http.sourceIp, '127.0.0.1')
    assert.equal(event.body, '{"order":1}')
    assert.equal(event.isBase64Encoded, false)
  })

  test("wso2: the function receives WSO2's mediator event, the resource template as path", async () => {
    const post = await call('/wso2/v1/items/9?q=x', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' })
    const event: Echo = post.json()
    assert.equal(event.httpMethod, 'POST')
    assert.equal(event.path, '/items/{itemId}')
    assert.deepEqual(event.pathParameters, { itemId: '9' })
    assert.deepEqual(event.queryStringParameters, { q: 'x' })
    assert.equal(event.headers['content-type'], 'application/json')
    assert.equal(event.body, '{"a":1}')
    assert.equal(event.isBase64Encoded, false)
    const get: Echo = (await call('/wso2/v1/items/9')).json()
    assert.equal('body' in get, false, 'WSO2 sends no body for GET')
    assert.deepEqual(get.queryStringParameters, {})
    const empty: Echo = (await call('/wso2/v1/items/9', { method: 'PUT' })).json()
    assert.equal(empty.body, '{}', 'WSO2 sends "{}" for a body-less PUT')
  })

  test('binary request bodies reach the function base64-encoded, and a base64 result comes back as bytes', async () => {
    const bytes = randomBytes(4096)
    for (const format of ['v1', 'v2', 'wso2']) {
      const response = await call(`/${format}/v1/upload`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: bytes })
      const event: Echo = response.json()
      assert.equal(event.isBase64Encoded, true, format)
      assert.deepEqual(Buffer.from(event.body, 'base64'), bytes, format)
    }
    // Text that is not valid UTF-8 is binary too.
    const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9])
    const event: Echo = (await call('/v1/v1/upload', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: latin1 })).json()
    assert.equal(event.isBase64Encoded, true)

    const result = await call('/binary/v1/x', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes })
    assert.equal(result.status, 200)
    assert.equal(result.headers['content-type'], 'application/octet-stream')
    assert.deepEqual(result.body, Buffer.from(bytes).reverse())
  })

  test('a proxy result becomes the response: status, headers, multiValueHeaders and cookies', async () => {
    const response = await call('/proxy/v1/x')
    assert.equal(response.status, 201)
    assert.equal(response.text, 'created')
    assert.equal(response.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(response.headers['content-length'], '7', 'the gateway frames the body, not the function')
    assert.equal(response.headers['x-single'], 'one')
    assert.equal(response.headers['x-number'], '42')
    assert.equal(response.headers['x-multi'], 'a, b')
    assert.deepEqual(response.headers['set-cookie'], ['from-multi=1', 'session=abc; HttpOnly', 'theme=dark'])

    const noContent = await call('/no-content/v1/x')
    assert.equal(noContent.status, 204)
    assert.equal(noContent.headers['x-done'], 'yes')
    assert.equal(noContent.body.length, 0)
  })

  test('any other JSON result is a 200 JSON body, byte for byte', async () => {
    const response = await call('/plain/v1/menu')
    assert.equal(response.status, 200)
    assert.equal(response.headers['content-type'], 'application/json')
    assert.equal(response.text, JSON.stringify({ menu: ['margherita', 'diavola'], count: 2 }))
    const nothing = await call('/nothing/v1/x')
    assert.equal(nothing.status, 200)
    assert.equal(nothing.text, 'null')
  })

  test('a resource-level endpoint invokes its own function', async () => {
    assert.deepEqual((await call('/v1/v1/special')).json(), { function: 'other' })
    assert.equal(lambda.invocations.at(-1)!.functionName, 'other')
  })

  test('a function ARN gives the region, and the qualifier is sent', async () => {
    const response = await call('/arn/v1/x')
    assert.equal(response.status, 200)
    const invocation = lambda.invocations.at(-1)!
    assert.equal(invocation.functionName, 'echo')
    assert.equal(invocation.qualifier, 'live')
  })

  test('an Unhandled function error is a 502 LAMBDA_FUNCTION_ERROR with its type and message, no stack trace', async () => {
    const response = await call('/unhandled/v1/x')
    assert.equal(response.status, 502)
    assert.equal(response.headers['content-type'], 'application/json')
    const body = response.json()
    assert.equal(body.code, 'LAMBDA_FUNCTION_ERROR')
    assert.equal(body.requestId, response.headers['x-request-id'])
    assert.equal(body.functionError, 'Unhandled')
    assert.equal(body.errorType, 'TypeError')
    assert.equal(body.errorMessage, 'pizza.bake is not a function')
    assert.match(body.message, /Unhandled.*TypeError: pizza\.bake is not a function/)
    assert.doesNotMatch(response.text, /at |trace|lambda\.test/)
  })

  test('a Handled function error is a 502 LAMBDA_FUNCTION_ERROR too', async () => {
    const response = await call('/handled/v1/x')
    assert.equal(response.status, 502)
    const body = response.json()
    assert.equal(body.code, 'LAMBDA_FUNCTION_ERROR')
    assert.equal(body.functionError, 'Handled')
    assert.equal(body.errorMessage, 'out of dough')
  })

  test('a malformed proxy result is 502 BACKEND_BAD_RESPONSE, never a silent 200', async () => {
    for (const name of ['malformed', 'bad-status', 'interim', 'bad-header', 'bad-base64']) {
      const response = await call(`/${name}/v1/x`)
      assert.equal(response.status, 502, name)
      assert.equal(response.json().code, 'BACKEND_BAD_RESPONSE', name)
      assert.match(response.json().message, new RegExp(`${name}:v1:production: protocol`))
    }
  })

  test('an invocation slower than timeouts.response is 504 BACKEND_TIMEOUT', async () => {
    const started = performance.now()
    const response = await call('/slow/v1/x')
    assert.equal(response.status, 504)
    assert.equal(response.json().code, 'BACKEND_TIMEOUT')
    assert.ok(performance.now() - started < 1400, 'the gateway gave up before the function finished')
  })

  test('throttling (429) and service faults (5xx) are failures of kind "status", answered 502 BACKEND_ERROR', async () => {
    for (const name of ['throttled', 'broken']) {
      const response = await call(`/${name}/v1/x`)
      assert.equal(response.status, 502, name)
      assert.equal(response.json().code, 'BACKEND_ERROR')
      assert.match(response.json().message, new RegExp(`endpoint ${name}:v1:production: status`))
    }
    const metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
    assert.match(metrics, /portico_upstream_errors_total\{endpoint="throttled:v1:production",kind="status"\} 1/)
  })

  test('an asynchronous (Event) invocation answers 202 at once and runs the function', async () => {
    const before = lambda.invocations.length
    const response = await call('/async/v1/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"pizza":"margherita"}' })
    assert.equal(response.status, 202)
    assert.equal(response.body.length, 0)
    const invocation = lambda.invocations[before]!
    assert.equal(invocation.invocationType, 'Event')
    assert.equal(invocation.event.body, '{"pizza":"margherita"}')
  })

  test('the service verifies every signature: a wrong secret, an unknown key or a wrong region are refused', async () => {
    for (const [name, type] of [['wrongkey', 'InvalidSignatureException'], ['unknownkey', 'UnrecognizedClientException'], ['wrongregion', 'InvalidSignatureException']] as const) {
      const rejected = lambda.rejections.length
      const response = await call(`/${name}/v1/x`)
      assert.equal(response.status, 502, name)
      assert.equal(response.json().code, 'BACKEND_ERROR', name)
      assert.equal(lambda.rejections.length, rejected + 1, name)
      assert.equal(lambda.rejections.at(-1)!.status, 403, name)
      assert.equal(lambda.rejections.at(-1)!.type, type, name)
    }
    const missing = await call('/missing/v1/x')
    assert.equal(missing.status, 502)
    assert.equal(lambda.rejections.at(-1)!.type, 'ResourceNotFoundException')
  })

  test('static temporary credentials sign with their session token', async () => {
    const response = await call('/session/v1/x')
    assert.equal(response.status, 200)
    assert.equal(lambda.invocations.at(-1)!.accessKeyId, SESSION_KEY.accessKeyId)
    const without = await call('/nosession/v1/x')
    assert.equal(without.status, 502)
    assert.equal(lambda.rejections.at(-1)!.type, 'UnrecognizedClientException')
  })

  test('the service refuses a correctly signed call whose body was tampered with', async () => {
    const signer = new SignatureV4({ service: 'lambda', region: REGION, credentials: KEY, sha256: Hash.bind(null, 'sha256') })
    const { host, hostname, port } = new URL(lambda.url)
    const path = '/2015-03-31/functions/plain/invocations'
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname, port: Number(port), path, query: {}, headers: { host, 'content-type': 'application/json' }, body: '{"amount":1}' })
    const send = (body: string) => request(`${lambda.url}${path}`, { method: 'POST', headers: signed.headers, body })
    const honest = await send('{"amount":1}')
    assert.equal(honest.statusCode, 200)
    await honest.body.dump()
    const tampered = await send('{"amount":1000}')
    assert.equal(tampered.statusCode, 403)
    assert.match(String(tampered.headers['x-amzn-errortype']), /^InvalidSignatureException/)
    await tampered.body.dump()
  })

  test('a request larger than a Lambda event may be is 413 PAYLOAD_TOO_LARGE without invoking', async () => {
    const before = lambda.invocations.length
    const response = await call('/v1/v1/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(5 * 1024 * 1024) })
    assert.equal(response.status, 413, 'base64 makes 5 MB more than the 6 MB an event may carry')
    assert.equal(response.json().code, 'PAYLOAD_TOO_LARGE')
    const big = await call('/v1/v1/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(8 * 1024 * 1024) })
    assert.equal(big.status, 413)
    assert.equal(lambda.invocations.length, before)
  })

  test('secrets never appear in the admin view, metrics or error bodies', async () => {
    const admin = await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.text()
    assert.match(admin, /"type":"lambda"/)
    assert.match(admin, /"credentials":\{"type":"static"\}/)
    const metrics = await (await request(`${gateway.adminUrl}/metrics`)).body.text()
    const errors = [(await call('/wrongkey/v1/x')).text, (await call('/unhandled/v1/x')).text]
    for (const text of [admin, metrics, ...errors]) {
      for (const secret of [...SECRETS, 'not-the-secret']) assert.equal(text.includes(secret), false)
      assert.equal(text.includes(KEY.accessKeyId), false)
    }
  })

  test('a throttled region throws a "status" EndpointError, and the buffered request can go to a second region', async () => {
    // What a failover group does with two regions: send to the first, and on a failure send the same exchange on.
    const secondRegion = await startLambdaService({ region: 'us-east-1', keys: [KEY], functions: { echo: (event) => event } })
    const regionA = new LambdaEndpoint('orders-eu-west-1', LambdaEndpointSchema.parse(endpoint({ function: 'throttled' })))
    const regionB = new LambdaEndpoint('orders-us-east-1', LambdaEndpointSchema.parse(endpoint({ region: 'us-east-1', endpointUrl: secondRegion.url })))
    try {
      const sent = exchange('POST', Readable.from([Buffer.from('{"pizza":'), Buffer.from('"diavola"}')]))
      await assert.rejects(regionA.send(sent, AbortSignal.timeout(5000)), (error: unknown) => {
        assert.ok(error instanceof EndpointError)
        assert.equal(error.kind, 'status')
        assert.equal(error.status, 429)
        assert.equal(error.endpointId, 'orders-eu-west-1')
        assert.match(error.message, /TooManyRequestsException: Rate exceeded/)
        return true
      })
      assert.equal(regionA.describe().throttled, 1)
      assert.ok(Buffer.isBuffer(sent.body), 'the body stays buffered for another attempt')
      const response = await regionB.send(sent, AbortSignal.timeout(5000))
      assert.equal(response.status, 200)
      const event = JSON.parse(Buffer.concat(await response.body!.toArray()).toString())
      assert.equal(event.body, '{"pizza":"diavola"}')
      assert.equal(secondRegion.invocations.length, 1)
    } finally {
      await regionA.close()
      await regionB.close()
      await secondRegion.close()
    }
  })
})

describe('lambda in a failover group', () => {
  test('a POST throttled in one region is delivered by the second region, with no error for the client', async () => {
    const first = await startLambdaService({
      region: REGION,
      keys: [KEY],
      functions: {
        orders: () => {
          throw new ServiceError(429, 'TooManyRequestsException', 'Rate exceeded')
        },
      },
    })
    const second = await startLambdaService({ region: 'us-east-1', keys: [KEY], functions: { orders: (event) => ({ statusCode: 201, body: event.body }) } })
    const leaf = (region: string, url: string) => ({ type: 'lambda', function: 'orders', region, endpointUrl: url, credentials: { type: 'static', ...KEY } })
    const gateway = await startGateway(
      config([api('orders', { type: 'failover', endpoints: [{ ...leaf(REGION, first.url), name: 'orders-eu' }, { ...leaf('us-east-1', second.url), name: 'orders-us' }] })]),
    )
    try {
      const response = await request(`${gateway.url}/orders/v1/new`, { method: 'POST', body: '{"pizza":"diavola"}', headers: { 'content-type': 'application/json' } })
      assert.equal(response.statusCode, 201)
      assert.equal(await response.body.text(), '{"pizza":"diavola"}')
      assert.equal(first.invocations.length, 1, 'the throttled region was tried first')
      assert.equal(second.invocations.length, 1)
      const view = JSON.stringify(await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json())
      assert.match(view, /"id":"orders-eu"[^}]*"state":"suspended"/)
    } finally {
      await gateway.close()
      await first.close()
      await second.close()
    }
  })
})

describe('lambda credentials', () => {
  let lambda: LambdaService
  let sts: StsService
  let gateway: TestGateway

  before(async () => {
    lambda = await startLambdaService({ region: REGION, keys: [KEY], functions: { whoami: (_event, context) => ({ function: context.functionName }) } })
    sts = await startStsService({
      region: REGION,
      keys: [ROLE_SOURCE_KEY],
      roles: { [ROLE_ARN]: { externalId: 'portico-external' } },
      grantTo: lambda.keys,
      // Just past the five minutes before expiry at which the gateway renews: stale a second after issue.
      lifetimeMs: 5 * 60_000 + 1000,
    })
    const closedUrl = await unusedPortUrl()
    const role = (overrides: object) => ({
      type: 'lambda',
      function: 'whoami',
      region: REGION,
      endpointUrl: lambda.url,
      credentials: { type: 'assume-role', roleArn: ROLE_ARN, externalId: 'portico-external', sessionName: 'portico-test', endpointUrl: sts.url, source: { type: 'static', ...ROLE_SOURCE_KEY }, ...overrides },
    })
    gateway = await startGateway(
      JSON.stringify({
        apis: [
          api('role', role({})),
          api('wrongexternal', role({ externalId: 'someone-else' })),
          api('chain', { type: 'lambda', function: 'whoami', region: REGION, endpointUrl: lambda.url }),
          api('nolambda', { type: 'lambda', function: 'whoami', region: REGION, endpointUrl: closedUrl, credentials: { type: 'static', ...KEY } }),
          api('nosts', role({ endpointUrl: closedUrl })),
        ],
      }),
    )
  })

  after(async () => {
    await gateway?.close()
    await sts?.close()
    await lambda?.close()
  })

  test('assume-role: credentials from STS are cached, shared by concurrent requests and renewed before expiry', async () => {
    const first = await Promise.all([1, 2, 3].map(() => request(`${gateway.url}/role/v1/x`)))
    for (const response of first) {
      assert.equal(response.statusCode, 200)
      assert.deepEqual(await response.body.json(), { function: 'whoami' })
    }
    assert.equal(sts.calls.length, 1, 'one AssumeRole for three concurrent requests')
    assert.deepEqual({ ...sts.calls[0]! }, { roleArn: ROLE_ARN, sessionName: 'portico-test', externalId: 'portico-external', durationSeconds: 3600, accessKeyId: ROLE_SOURCE_KEY.accessKeyId })
    assert.equal(lambda.invocations.at(-1)!.accessKeyId, sts.issued[0]!.accessKeyId)

    await sleep(1200)
    const renewed = await request(`${gateway.url}/role/v1/x`)
    assert.equal(renewed.statusCode, 200)
    await renewed.body.dump()
    assert.equal(sts.calls.length, 2, 'renewed once the credentials came within five minutes of expiry')
    assert.equal(lambda.invocations.at(-1)!.accessKeyId, sts.issued[1]!.accessKeyId)
  })

  test('assume-role refused by STS is a failure, and nothing is invoked', async () => {
    const invocations = lambda.invocations.length
    const response = await request(`${gateway.url}/wrongexternal/v1/x`)
    assert.equal(response.statusCode, 502)
    const body = (await response.body.json()) as { code: string; message: string }
    assert.equal(body.code, 'BACKEND_ERROR')
    assert.equal(sts.calls.at(-1)!.externalId, 'someone-else')
    assert.equal(lambda.invocations.length, invocations)
    const calls = sts.calls.length
    const again = await request(`${gateway.url}/wrongexternal/v1/x`)
    assert.equal(again.statusCode, 502)
    await again.body.dump()
    assert.equal(sts.calls.length, calls + 1, 'a refusal is not cached: the next request asks STS again')
    const admin = await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.text()
    assert.match(admin, /"credentials":\{"type":"assume-role","roleArn":"arn:aws:iam::123456789012:role\/portico-invoker","source":"static"\}/)
    assert.equal(admin.includes(ROLE_SOURCE_KEY.secretAccessKey), false)
  })

  test('an unreachable Lambda or STS endpoint is 502 BACKEND_UNREACHABLE (connect-refused)', async () => {
    for (const path of ['/nolambda/v1/x', '/nosts/v1/x']) {
      const response = await request(`${gateway.url}${path}`, { headersTimeout: 20_000 })
      assert.equal(response.statusCode, 502, path)
      const body = (await response.body.json()) as { code: string; message: string }
      assert.equal(body.code, 'BACKEND_UNREACHABLE', path)
      assert.match(body.message, /connect-refused/, path)
    }
  })

  test('the default credential chain reads the environment', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }
    process.env.AWS_ACCESS_KEY_ID = KEY.accessKeyId
    process.env.AWS_SECRET_ACCESS_KEY = KEY.secretAccessKey
    try {
      const response = await request(`${gateway.url}/chain/v1/x`)
      assert.equal(response.statusCode, 200)
      assert.deepEqual(await response.body.json(), { function: 'whoami' })
      assert.equal(lambda.invocations.at(-1)!.accessKeyId, KEY.accessKeyId)
    } finally {
      restore('AWS_ACCESS_KEY_ID', saved.id)
      restore('AWS_SECRET_ACCESS_KEY', saved.secret)
    }
  })
})

describe('lambda static credentials', () => {
  // AWS's SigV4 test suite signs with AKIDEXAMPLE; LocalStack and other AWS-compatible services take "test".
  const SHORT_KEYS = [
    { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    { accessKeyId: 'test', secretAccessKey: 'test' },
  ]
  let lambda: LambdaService
  let gateway: TestGateway

  before(async () => {
    lambda = await startLambdaService({ region: REGION, keys: SHORT_KEYS, functions: { plain: () => ({ signed: true }) } })
    const endpoint = (key: (typeof SHORT_KEYS)[number]) => ({ type: 'lambda', function: 'plain', region: REGION, endpointUrl: lambda.url, credentials: { type: 'static', ...key } })
    gateway = await startGateway(config([api('akid', endpoint(SHORT_KEYS[0]!)), api('localstack', endpoint(SHORT_KEYS[1]!))]))
  })

  after(async () => {
    await gateway?.close()
    await lambda?.close()
  })

  test('short access key ids are accepted and sign calls the service verifies', async () => {
    for (const [name, key] of [['akid', SHORT_KEYS[0]!], ['localstack', SHORT_KEYS[1]!]] as const) {
      const response = await request(`${gateway.url}/${name}/v1/x`)
      assert.equal(response.statusCode, 200, name)
      assert.deepEqual(await response.body.json(), { signed: true })
      assert.equal(lambda.invocations.at(-1)!.accessKeyId, key.accessKeyId)
    }
    assert.deepEqual(lambda.rejections, [])
  })
})

describe('lambda config', () => {
  function problems(endpoint: object): string[] {
    try {
      parseConfig(JSON.stringify({ apis: [api('x', endpoint)] }), 'portico.yaml')
      return []
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      return error.issues.map((issue) => `${issue.path}: ${issue.message}`)
    }
  }

  test('defaults: apigw-v1 events, RequestResponse, the default credential chain, the public endpoint', () => {
    const parsed = LambdaEndpointSchema.parse({ type: 'lambda', function: 'orders', region: 'eu-west-1' })
    assert.equal(parsed.eventFormat, 'apigw-v1')
    assert.equal(parsed.invocationType, 'RequestResponse')
    assert.deepEqual(parsed.credentials, { type: 'default' })
    assert.equal(new LambdaEndpoint('x', parsed).describe().endpointUrl, 'https://lambda.eu-west-1.amazonaws.com')
  })

  test('examples/lambda.yaml is valid', async () => {
    const example = await loadConfigFile('examples/lambda.yaml')
    assert.equal(example.apis[0]!.endpoints.production!.type, 'lambda')
  })

  test('bad lambda config names the field and the problem', () => {
    assert.deepEqual(problems({ type: 'lambda', function: 'orders' }), ['apis[0].endpoints.production.region: is required unless "function" is a full ARN (arn:aws:lambda:<region>:...)'])
    assert.deepEqual(problems({ type: 'lambda', function: 'arn:aws:lambda:us-east-1:123456789012:function:orders', region: 'eu-west-1' }), [
      'apis[0].endpoints.production.region: is "eu-west-1" but the function ARN names region "us-east-1"',
    ])
    assert.deepEqual(problems({ type: 'lambda', function: 'orders:live', region: 'eu-west-1', qualifier: 'v2' }), ['apis[0].endpoints.production.qualifier: is set, but "function" ends in a qualifier already'])
    assert.deepEqual(problems({ type: 'lambda', function: 'orders', region: 'eu-west-1', credentials: { type: 'vault' } }), [
      'apis[0].endpoints.production.credentials.type: must be "static", "default" or "assume-role"',
    ])
    assert.deepEqual(problems({ type: 'lambda', function: 'orders', region: 'eu-west-1', credentials: { type: 'static', accessKeyId: 'AKIAPORTICOTEST00001' } }), [
      'apis[0].endpoints.production.credentials.secretAccessKey: is required (string)',
    ])
    assert.deepEqual(problems({ type: 'lambda', function: 'orders', region: 'eu-west-1', credentials: { type: 'static', accessKeyId: '', secretAccessKey: 'x' } }), [
      'apis[0].endpoints.production.credentials.accessKeyId: must not be empty',
    ])
    assert.deepEqual(problems({ type: 'lambda', function: 'orders', region: 'eu-west-1', eventFormat: 'v3' }), ['apis[0].endpoints.production.eventFormat: must be "apigw-v1", "apigw-v2" or "wso2"'])
    assert.deepEqual(problems({ type: 'lambda', function: 'orders', region: 'eu-west-1', invocationType: 'DryRun' }), ['apis[0].endpoints.production.invocationType: must be "RequestResponse" or "Event"'])
    assert.equal(problems({ type: 'lambda', function: 'not a function!', region: 'eu-west-1' })[0], 'apis[0].endpoints.production.function: must be a Lambda function name, partial ARN or ARN, optionally with ":version" or ":alias"')
    assert.match(problems({ type: 'lambda', function: 'orders', region: 'eu-west-1', credentials: { type: 'assume-role', roleArn: 'arn:aws:iam::123:role/x' } })[0]!, /credentials\.roleArn: must be an IAM role ARN/)
  })
})

/** The URL of a port nothing listens on: a server is started on an ephemeral port and closed again. */
async function unusedPortUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}`
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

/** A minimal exchange for calling an endpoint directly, as a group would. */
function exchange(method = 'GET', body: Readable | null = null): Exchange {
  return {
    requestId: 'direct-call-0001',
    method,
    path: '/x',
    basePath: '/fn/v1',
    query: '',
    uriVariables: {},
    headers: body ? ['content-type', 'application/json'] : [],
    body,
    route: { apiName: 'direct', apiVersion: 'v1', uriTemplate: '/*' },
    environment: 'production',
    properties: new Map(),
    target: undefined,
    client: { address: '127.0.0.1', protocol: 'http', host: 'localhost' },
  }
}
