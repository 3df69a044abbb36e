import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { unzipSync, zipSync } from 'fflate'
import { request } from 'undici'
import { parse as parseYaml, stringify } from 'yaml'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { importWso2Project } from '../src/import/wso2.ts'
import { readWso2Params } from '../src/import/wso2-params.ts'
import { startBackend, startEchoBackend } from './support/backend.ts'
import { runCli } from './support/cli.ts'
import { places, replaced } from './support/mutations.ts'
import { startGateway } from './support/gateway.ts'
import { closedPort } from './support/switchable-backend.ts'

// Real WSO2 material (origins and licences in test/fixtures/wso2/README.md): exports and params files of
// wso2/product-apim-tooling, a Publisher payload of wso2/apim-apps, the Prototype endpoint config the Publisher writes.
const FIXTURES = fileURLToPath(new URL('./fixtures/wso2/', import.meta.url))
const fixture = (name: string) => join(FIXTURES, name)

type Json = Record<string, any>

function apiOf(yaml: string): Json {
  return (parseYaml(yaml) as { apis: Json[] }).apis[0]!
}

const locations = (parts: Array<{ location: string }>) => parts.map((part) => part.location)

let work: string
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'portico-wso2-real-'))
})
after(async () => {
  await rm(work, { recursive: true, force: true })
})

/** A copy of a fixture project with `edit` applied to the text of its API file. */
async function editedCopy(name: string, file: string, edit: (text: string) => string, as = name): Promise<string> {
  const target = join(work, as)
  await rm(target, { recursive: true, force: true })
  await cp(fixture(name), target, { recursive: true })
  await writeFile(join(target, file), edit(await readFile(join(target, file), 'utf8')))
  return target
}

describe('no input crashes the importer', () => {
  test('the 3.x api.json of product-apim-tooling, whose uriTemplates have scopes [null, null, null], imports every verb', async () => {
    const { yaml, report } = await importWso2Project(fixture('apictl-3x-json'))
    const api = apiOf(yaml)
    assert.equal(api.name, 'PizzaShackAPI')
    assert.equal(api.context, '/pizzashack')
    assert.equal(api.lifecycle, 'CREATED')
    // One uriTemplate holds GET, DELETE and PUT (`httpVerbs`); `httpVerb` alone names only GET.
    assert.deepEqual(api.resources, [
      { uriTemplate: '/order/{orderId}', methods: ['GET', 'DELETE', 'PUT'] },
      { uriTemplate: '/menu', methods: ['GET'] },
      { uriTemplate: '/order', methods: ['POST'] },
    ])
    // A null scope is 3.x's "no scope": nothing to report.
    assert.deepEqual(locations(report.leftOut), ['Meta-information/api.json: securityScheme'])
  })

  for (const [name, file] of [['pizzashack', 'api.yaml'], ['apictl-3x-json', 'Meta-information/api.json'], ['lambda', 'api.yaml'], ['failover', 'api.yaml']] as const) {
    test(`${name}: each value replaced by null, a number, a list, an object or text gives a report line or a clear error, never a crash`, async () => {
      const original = parseYaml(await readFile(join(fixture(name), file), 'utf8')) as Json
      const target = join(work, `mutated-${name}`)
      await cp(fixture(name), target, { recursive: true })
      let imported = 0
      let refused = 0
      for (const path of places(original)) {
        for (const value of [null, 42, ['x'], { x: 1 }, 'x']) {
          await writeFile(join(target, file), file.endsWith('.json') ? JSON.stringify(replaced(original, path, value)) : stringify(replaced(original, path, value)))
          const where = `${path.join('.')} = ${JSON.stringify(value)}`
          try {
            await importWso2Project(target)
            imported++
          } catch (error) {
            // Refusals are errors that name the file and the problem: the API file (no name, no version), or the
            // converted config the gateway would refuse, by line. A TypeError would be a crash.
            assert.ok(error instanceof ConfigError || (error as Error).constructor === Error, `${where}: ${(error as Error).stack}`)
            assert.match((error as Error).message, /^(api\.yaml|Meta-information\/api\.json|imported\.yaml)[: ]/, where)
            refused++
          }
        }
      }
      assert.ok(imported > refused * 5, `${imported} imported, ${refused} refused`)
    })
  }

  test('a value of the wrong shape is reported with its file and place, and the rest is converted', async () => {
    const project = await editedCopy('pizzashack', 'api.yaml', (text) => text.replace('  operations:\n   -\n', '  operations:\n   - 42\n   -\n').replace('  policies:\n   - Unlimited', '  policies: {}'))
    const { yaml, report } = await importWso2Project(project)
    assert.equal(apiOf(yaml).resources.length, 3)
    const parts = report.leftOut.filter((part) => /operations\[0\]|policies/.test(part.location))
    assert.deepEqual(parts.map((part) => part.location).sort(), ['api.yaml: data.operations[0]', 'api.yaml: data.policies'])
    assert.match(parts.find((part) => part.location.endsWith('operations[0]'))!.message, /^42 does not fit here \(expected object, received number\); not converted$/)
  })

  test('credentials in an endpoint URL are left out of the config and of every message, and the rest converts', async () => {
    const project = await editedCopy('pizzashack', 'api.yaml', (text) => text.replaceAll('https://localhost:9443/am/sample', 'https://admin:s3cr3t-pw@localhost:9443/am/sample'), 'url-credentials')
    const { yaml, report } = await importWso2Project(project)
    const api = apiOf(yaml)
    assert.equal(api.endpoints.production.url, 'https://localhost:9443/am/sample/pizzashack/v1/api/')
    assert.equal(api.endpoints.sandbox.url, 'https://localhost:9443/am/sample/pizzashack/v1/api/')
    const parts = report.leftOut.filter((part) => part.location.endsWith('_endpoints.url'))
    assert.deepEqual(parts.map((part) => part.location), ['api.yaml: data.endpointConfig.production_endpoints.url', 'api.yaml: data.endpointConfig.sandbox_endpoints.url'])
    assert.match(parts[0]!.message, /user name and password in the URL are left out/)
    assert.ok(!JSON.stringify({ yaml, report }).includes('s3cr3t-pw'), 'the password appears nowhere')
  })

  test('a project file that is not YAML is an error naming it; a broken definition or endpointConfig is a report line', async () => {
    const broken = await editedCopy('pizzashack', 'api.yaml', () => 'data: [unclosed\n', 'broken')
    await assert.rejects(importWso2Project(broken), /^Error: api\.yaml is not YAML or JSON: /)
    const deep = await editedCopy('pizzashack', 'api.yaml', (text) => text.replace('  mediationPolicies: []', `  mediationPolicies: ${'['.repeat(5000)}${']'.repeat(5000)}`), 'deep')
    await assert.rejects(importWso2Project(deep), /^Error: api\.yaml nests too deeply to be read$/)
    const legacy = await editedCopy('apictl-3x-json', 'Meta-information/api.json', (text) => text.replace('"endpointConfig": "{', '"endpointConfig": "{{'), 'legacy-broken')
    const { report } = await importWso2Project(legacy)
    assert.match(report.leftOut.find((part) => part.location === 'Meta-information/api.json: endpointConfig')!.message, /is not JSON/)
  })
})

describe("what WSO2's control plane hands its gateways, API Products, and what is not a project", () => {
  test('an API artifact wrapped in a revision folder imports like the project inside it', async () => {
    const { yaml, report } = await importWso2Project(fixture('gateway-artifacts/rest-api.zip'))
    const api = apiOf(yaml)
    assert.equal(api.name, 'TestAPI')
    assert.equal(api.context, '/test')
    assert.deepEqual(api.resources, [{ uriTemplate: '/*', methods: ['GET', 'PUT', 'POST', 'DELETE', 'PATCH'] }])
    assert.equal(api.endpoints.production.url, 'https://localhost:8080/')
    assert.deepEqual(locations(report.leftOut), ['api.json: data.securityScheme'])

    // The same folders unpacked: the directory's definition is read where it is, two folders down.
    const unpacked = join(work, 'revision-folder')
    await mkdir(unpacked, { recursive: true })
    for (const [name, data] of Object.entries(unzipSync(await readFile(fixture('gateway-artifacts/rest-api.zip'))))) {
      if (name.endsWith('/')) continue
      await mkdir(dirname(join(unpacked, name)), { recursive: true })
      await writeFile(join(unpacked, name), data)
    }
    const fromDirectory = await importWso2Project(unpacked)
    assert.deepEqual(apiOf(fromDirectory.yaml), api)
  })

  test('a GraphQL API is one resource for GET and POST at its context, and a query reaches the backend URL as sent', async () => {
    const backend = await startEchoBackend('graphql')
    try {
      const { yaml, report } = await importWso2Project(fixture('gateway-artifacts/graphql-api.zip'))
      const api = apiOf(yaml)
      assert.deepEqual(api.resources, [{ uriTemplate: '/*', methods: ['GET', 'POST'] }])
      assert.equal(api.endpoints.production.url, 'http://localhost:8080/graphql')
      assert.ok(!report.leftOut.some((part) => /operations\[/.test(part.location)), 'query fields are not reported as paths that are not paths')
      assert.match(report.leftOut.find((part) => part.location === 'api.json: data.type')!.message, /GraphQL API is converted as one resource for GET and POST/)

      const gateway = await startGateway(yaml.replaceAll('http://localhost:8080/graphql', `${backend.url}/graphql`).replace('lifecycle: CREATED', 'lifecycle: PUBLISHED'))
      try {
        const query = JSON.stringify({ query: '{ hero { name } }' })
        const posted = await request(`${gateway.url}/swars/1.0.0`, { method: 'POST', body: query, headers: { 'content-type': 'application/json' } })
        assert.equal(posted.statusCode, 200)
        const seen = (await posted.body.json()) as { method: string; url: string; body: string }
        assert.deepEqual([seen.method, seen.url, seen.body], ['POST', '/graphql', query])
        const got = await request(`${gateway.url}/swars/1.0.0?query=%7Bhero%7Bname%7D%7D`)
        assert.equal(((await got.body.json()) as { url: string }).url, '/graphql?query=%7Bhero%7Bname%7D%7D')
        const put = await request(`${gateway.url}/swars/1.0.0`, { method: 'PUT', body: query })
        assert.equal(put.statusCode, 405)
        await put.body.dump()
      } finally {
        await gateway.close()
      }
    } finally {
      await backend.close()
    }
  })

  test("4.4's subtypeConfiguration: DEFAULT is a plain API and says nothing; an AI API is reported as converted without its AI handling", async () => {
    const plain = await editedCopy('pizzashack', 'api.yaml', (text) => text.replace('  type: HTTP\n', '  type: HTTP\n  subtypeConfiguration:\n    subtype: DEFAULT\n'), 'subtype-default')
    assert.ok(!(await importWso2Project(plain)).report.leftOut.some((part) => part.location.includes('subtypeConfiguration')))
    const ai = await editedCopy('pizzashack', 'api.yaml', (text) => text.replace('  type: HTTP\n', '  type: HTTP\n  subtypeConfiguration:\n    subtype: AIAPI\n'), 'subtype-ai')
    const part = (await importWso2Project(ai)).report.leftOut.find((left) => left.location === 'api.yaml: data.subtypeConfiguration')
    assert.match(part?.message ?? '', /subtype AIAPI is converted as a plain HTTP API; its AI vendor configuration, model routing and token-based limits are not/)
  })

  test('an OpenAPI document where the API file belongs is named as one, with the command that reads it', async () => {
    const project = join(work, 'openapi-as-api')
    await mkdir(project, { recursive: true })
    await cp(join(FIXTURES, '../openapi/petstore-3.0.yaml'), join(project, 'api.yaml'))
    await assert.rejects(importWso2Project(project), /^Error: api\.yaml is an OpenAPI 3\.0\.\d+ document, not an API project's API file; `portico import openapi` reads it$/)
  })

  test('an API Product becomes one API whose resources go to the endpoints of the APIs they come from', async () => {
    const { yaml, report } = await importWso2Project(fixture('api-product'))
    const api = apiOf(yaml)
    // No version in the export (products had none): 1.0.0, and the bare context too, where such products are called.
    assert.deepEqual([api.name, api.context, api.version, api.defaultVersion, api.lifecycle], ['MyProduct', '/myproduct', '1.0.0', true, 'PUBLISHED'])
    assert.deepEqual(api.resources.map((resource: Json) => `${resource.methods.join()} ${resource.uriTemplate}`), ['POST /order', 'GET /menu'])
    for (const resource of api.resources) assert.equal(resource.endpoints.production.url, 'https://localhost:9443/am/sample/pizzashack/v1/api/')
    assert.equal(api.endpoints, undefined, 'a product has no endpoint of its own')
    // The Petstore's URL has no scheme: its operations are reported, under the product and under its own folder.
    assert.deepEqual(
      locations(report.leftOut).filter((location) => /apis\[0\]|SwaggerPetstore/.test(location)),
      [
        'APIs/SwaggerPetstore-1.0.5/api.yaml: data.endpointConfig.production_endpoints.url',
        'APIs/SwaggerPetstore-1.0.5/api.yaml: data.endpointConfig.sandbox_endpoints.url',
        'api_product.yaml: data.apis[0].operations[0]',
        'api_product.yaml: data.apis[0].operations[1]',
      ],
    )
    assert.ok(!locations(report.leftOut).some((location) => /PizzaShackAPI-1\.0\.0\/api\.yaml: data\.(securityScheme|lifeCycleStatus)/.test(location)), "the product's own security and state stand")
    assert.ok(locations(report.leftOut).includes('api_product.yaml: data.securityScheme'))

    // Served: a product request reaches the PizzaShack backend with the resource's path, as WSO2 sends it.
    const backend = await startEchoBackend('pizzashack')
    const gateway = await startGateway(yaml.replaceAll('https://localhost:9443/am/sample/pizzashack/v1/api/', `${backend.url}/pizzashack/`))
    try {
      for (const path of ['/myproduct/1.0.0/menu', '/myproduct/menu']) {
        const response = await request(`${gateway.url}${path}`)
        assert.equal(response.statusCode, 200, path)
        assert.equal(((await response.body.json()) as { url: string }).url, '/pizzashack/menu', path)
      }
      const other = await request(`${gateway.url}/myproduct/1.0.0/pet/findByStatus`)
      assert.equal(other.statusCode, 404, 'an operation that was not converted is not served')
      await other.body.dump()
    } finally {
      await gateway.close()
      await backend.close()
    }

    // Zipped as apictl writes it, the same.
    const files: Record<string, Uint8Array> = {}
    for (const entry of await readdir(fixture('api-product'), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files[`MyProduct-1.0.0/${relative(fixture('api-product'), join(entry.parentPath, entry.name))}`] = await readFile(join(entry.parentPath, entry.name))
    }
    await writeFile(join(work, 'MyProduct-1.0.0.zip'), zipSync(files))
    assert.deepEqual(apiOf((await importWso2Project(join(work, 'MyProduct-1.0.0.zip'))).yaml), api)
  })

  test('a bundle of zips and a 2.x export are each refused with what they are', async () => {
    const bundle = join(work, 'payload.zip')
    await writeFile(bundle, zipSync({ 'a.zip': await readFile(fixture('gateway-artifacts/rest-api.zip')), 'deployments.json': new TextEncoder().encode('{}') }))
    await assert.rejects(importWso2Project(bundle), /: it holds 1 zip file\(s\) \(a\.zip\); import each project on its own$/)

    const legacy = join(work, 'legacy-2x.zip')
    await writeFile(legacy, zipSync({ 'admin-SampleAPI-1.0.0/api-efa1fcd1.json': new TextEncoder().encode('{}'), 'admin-SampleAPI-1.0.0/swagger-efa1fcd1.json': new TextEncoder().encode('{}') }))
    await assert.rejects(importWso2Project(legacy), /: it is an API Manager 2\.x export \(api-<id>\.json\); export the API again with apictl 3\.x or later$/)
  })
})

describe('contexts, lifecycles and missing endpoints as WSO2 treats them', () => {
  test('a Publisher payload (wso2/apim-apps) with context "pizzashack" and no lifecycle: "/pizzashack", CREATED, both said', async () => {
    const { yaml, report } = await importWso2Project(fixture('publisher-payload'))
    const api = apiOf(yaml)
    assert.equal(api.context, '/pizzashack')
    assert.equal(api.lifecycle, 'CREATED')
    assert.equal(api.endpoints, undefined)
    assert.match(report.notes.join('\n'), /api\.json: context "pizzashack" is served as "\/pizzashack", as WSO2 does/)
    assert.match(report.notes.join('\n'), /api\.json: lifeCycleStatus is not set: the API is imported as CREATED, as WSO2 creates APIs/)
    assert.deepEqual(report.leftOut, [{ location: 'api.json: endpointConfig', message: 'the API has no endpointConfig: no endpoint is written' }])
  })

  test('an exported lifecycle is kept: the PizzaShack export stays PUBLISHED', async () => {
    assert.equal(apiOf((await importWso2Project(fixture('pizzashack'))).yaml).lifecycle, 'PUBLISHED')
  })

  test('a sequence_backend endpoint is reported, no "endpoints: {}" is written, and the PUBLISHED API becomes CREATED', async () => {
    const { yaml, report } = await importWso2Project(fixture('sequence-backend'))
    assert.doesNotMatch(yaml, /endpoints:/)
    assert.equal(apiOf(yaml).lifecycle, 'CREATED')
    const reported = Object.fromEntries(report.leftOut.map((part) => [part.location, part.message]))
    assert.match(reported['api.yaml: data.endpointConfig.endpoint_type']!, /the endpoint type "sequence_backend" is not converted/)
    assert.match(reported['api.yaml: data.lifeCycleStatus']!, /PUBLISHED in WSO2 but has no endpoint here: it is imported as CREATED/)
    // And the written config is one the gateway loads.
    parseConfig(yaml, 'imported.yaml')
  })
})

describe("WSO2's suspension and timeouts in the imported config", () => {
  test('a lone endpoint that cannot be reached is suspended for 30 s, as WSO2 suspends it (fault 303001)', async () => {
    const port = await closedPort()
    const project = await editedCopy('publisher-payload', 'api.json', () =>
      JSON.stringify({
        name: 'Lone',
        version: '1.0.0',
        context: 'lone',
        lifeCycleStatus: 'PUBLISHED',
        endpointConfig: { endpoint_type: 'http', production_endpoints: { url: `http://127.0.0.1:${port}/menu` } },
      }),
      'lone',
    )
    const { yaml } = await importWso2Project(project)
    assert.deepEqual(apiOf(yaml).endpoints.production.suspendOnFailure, { initialDuration: 30000 })
    const gateway = await startGateway(yaml)
    try {
      const call = async () => {
        const response = await request(`${gateway.url}/lone/1.0.0/`, { headersTimeout: 5000, bodyTimeout: 5000 })
        return { status: response.statusCode, code: ((await response.body.json()) as { code: string }).code }
      }
      assert.deepEqual(await call(), { status: 502, code: 'BACKEND_UNREACHABLE' })
      // Portico's own default would try the lone leaf again; WSO2's suspends it.
      assert.deepEqual(await call(), { status: 503, code: 'ENDPOINT_UNAVAILABLE' })
    } finally {
      await gateway.close()
    }
  })

  test("the 3.x export's suspendErrorCode 101501 becomes the failure kind reset, and the difference is reported", async () => {
    const { yaml, report } = await importWso2Project(fixture('apictl-3x-json'))
    const { production, sandbox } = apiOf(yaml).endpoints
    assert.deepEqual(production.suspendOnFailure, { errorCodes: ['reset'], initialDuration: 40, maximumDuration: 400, progressionFactor: 4 })
    assert.deepEqual(production.timeouts, { response: 3000 })
    // No timeout codes configured: Synapse's 101504 and 101505.
    assert.deepEqual(production.markForSuspension, { errorCodes: [101504, 101505] })
    // `"config": null`: every default.
    assert.deepEqual(sandbox.suspendOnFailure, { initialDuration: 30000 })
    const differences = report.differences.map((part) => `${part.location}: ${part.message}`)
    assert.deepEqual(differences, [
      'Meta-information/api.json: endpointConfig: a suspended endpoint answers 503 ENDPOINT_UNAVAILABLE where WSO2 answers fault 303001; when a suspension ends, one trial request at a time goes through where WSO2 lets every request through (docs/failover.md)',
      'Meta-information/api.json: endpointConfig.production_endpoints.config.suspendErrorCode: 101501 (an I/O error while receiving the response) is written as the failure kind "reset", which Portico also reports as 101505 (connection closed)',
      // The sandbox has no actionDuration.
      "Meta-information/api.json: endpointConfig: an endpoint without actionDuration waits for the response headers for 60 s (timeouts.response); WSO2 waits until its transport's socket timeout",
    ])
  })

  test('an endpoint that closes the connection without answering is suspended under the 101501 mapping', async () => {
    const backend = await startBackend((req) => req.socket.destroy())
    const project = await editedCopy('apictl-3x-json', 'Meta-information/api.json', (text) =>
      text.replaceAll('https://localhost:9443/am/sample/pizzashack/v1/api/', `${backend.url}/`).replace('\\"suspendDuration\\":\\"40\\"', '\\"suspendDuration\\":\\"30000\\"').replace('\\"suspendMaxDuration\\":\\"400\\"', '\\"suspendMaxDuration\\":\\"60000\\"'),
      'legacy-reset',
    )
    const { yaml } = await importWso2Project(project)
    const gateway = await startGateway(yaml.replace('lifecycle: CREATED', 'lifecycle: PUBLISHED'))
    try {
      const call = async () => (await request(`${gateway.url}/pizzashack/1.0.0/menu`, { headersTimeout: 5000, bodyTimeout: 5000 })).statusCode
      assert.equal(await call(), 502)
      assert.equal(await call(), 503)
      assert.equal(backend.requests.length, 1)
    } finally {
      await gateway.close()
      await backend.close()
    }
  })
})

describe('apictl params files (--params)', () => {
  test('failover members of api_params_http_rest_endpoint_with_failover.yaml replace the endpoints; the project keeps its credentials', async () => {
    const params = await readWso2Params(fixture('params/api_params_http_rest_endpoint_with_failover.yaml'), 'production')
    const { yaml } = await importWso2Project(fixture('pizzashack'), { params })
    const { production, sandbox } = apiOf(yaml).endpoints
    assert.equal(production.type, 'failover')
    assert.deepEqual(production.endpoints.map((leaf: Json) => leaf.url), ['https://dev.wso2.com', 'https://dev1.wso2.com', 'https://dev2.wso2.com'])
    assert.deepEqual(sandbox.endpoints.map((leaf: Json) => leaf.url), ['https://dev.sandbox.wso2.com', 'https://dev1.sandbox.wso2.com', 'https://dev2.sandbox.wso2.com'])
    assert.equal(production.endpoints[0].security.auth.password, '${env:PIZZASHACKAPI_PRODUCTION_PASSWORD}')
  })

  test('a params failover runs: the first member dead, the request answered by the next', async () => {
    const backend = await startEchoBackend('second')
    const dead = await closedPort()
    const file = join(work, 'failover-params.yaml')
    const text = await readFile(fixture('params/api_params_http_rest_endpoint_with_failover.yaml'), 'utf8')
    await writeFile(file, text.replace('https://dev.wso2.com', `http://127.0.0.1:${dead}`).replace('https://dev1.wso2.com', `${backend.url}/second`))
    const { yaml } = await importWso2Project(fixture('pizzashack'), { params: await readWso2Params(file, undefined) })
    process.env.PIZZASHACKAPI_PRODUCTION_PASSWORD = 'pizza-secret'
    const gateway = await startGateway(yaml)
    try {
      const response = await request(`${gateway.url}/pizzashack/1.0.0/menu`, { headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(response.statusCode, 200)
      assert.equal(((await response.body.json()) as { url: string }).url, '/second/menu')
    } finally {
      await gateway.close()
      await backend.close()
    }
  })

  test('load-balance members with transport sessions, and soap failover members', async () => {
    const balanced = apiOf((await importWso2Project(fixture('pizzashack'), { params: await readWso2Params(fixture('params/api_params_http_rest_endpoint_with_load_balancing.yaml'), undefined) })).yaml)
    assert.equal(balanced.endpoints.production.type, 'loadbalance')
    assert.deepEqual(balanced.endpoints.production.session, { type: 'cookie', timeout: 5000 })
    assert.deepEqual(balanced.endpoints.production.endpoints.map((leaf: Json) => leaf.url), ['https://prod1.wso2.com', 'https://prod2.wso2.com'])
    const soap = apiOf((await importWso2Project(fixture('pizzashack'), { params: await readWso2Params(fixture('params/api_params_http_soap_endpoint_with_failover.yaml'), undefined) })).yaml)
    assert.deepEqual(soap.endpoints.production.endpoints.map((leaf: Json) => leaf.type), ['soap', 'soap', 'soap'])
  })

  test('Lambda credentials of a params file become environment references; the keys are never written', async () => {
    const { yaml, report } = await importWso2Project(fixture('lambda'), { params: await readWso2Params(fixture('params/api_params_aws_lambda_endpoint_with_stored_creds.yaml'), undefined) })
    // The region of the params applies to a function named without its ARN.
    const endpoint = apiOf(yaml).resources.find((resource: Json) => resource.uriTemplate === '/v1/models/{model_id}').endpoints.production
    assert.equal(endpoint.region, 'us-west-1')
    assert.equal(endpoint.credentials.type, 'static')
    assert.match(endpoint.credentials.accessKeyId, /^\$\{env:[A-Z_]+_AWS_ACCESS_KEY_ID\}$/)
    assert.doesNotMatch(yaml, /jdej3kj34jk3l353k553535b353|453653nk46j43kewrkj35j2kk32/)
    assert.match(report.notes.join('\n'), /awsLambdaEndpoints holds AWS keys: they are not written into the config/)
  })

  test('api_params_full.yaml: Basic and Digest per environment, certificates reported, tiers and gateway environments said', async () => {
    const { yaml, report } = await importWso2Project(fixture('pizzashack'), { params: await readWso2Params(fixture('params/api_params_full.yaml'), 'production') })
    const { production, sandbox } = apiOf(yaml).endpoints
    assert.equal(production.url, 'https://prod.wso2.com')
    assert.deepEqual(production.security.auth, { type: 'basic', username: 'admin', password: '${env:PIZZASHACKAPI_PRODUCTION_PASSWORD}' })
    assert.deepEqual(sandbox.security.auth, { type: 'digest', username: 'admin', password: '${env:PIZZASHACKAPI_SANDBOX_PASSWORD}' })
    assert.doesNotMatch(yaml, /password: admin/)
    const where = `${fixture('params/api_params_full.yaml')}: environments[production].configs`
    assert.ok(locations(report.leftOut).includes(`${where}.certs`))
    assert.ok(locations(report.leftOut).includes(`${where}.mutualSslCerts`))
    assert.match(report.leftOut.find((part) => part.location === 'api.yaml: data.policies')!.message, /Gold, Silver/)
    assert.match(report.notes.join('\n'), /deploys to gateway environments Default/)
  })

  test("per-endpoint configs (api_params_endpoint_configs.yaml) keep their timeouts and suspension; apictl's empty template crashes nothing", async () => {
    const { yaml } = await importWso2Project(fixture('pizzashack'), { params: await readWso2Params(fixture('params/api_params_endpoint_configs.yaml'), undefined) })
    const { production } = apiOf(yaml).endpoints
    assert.deepEqual(production.timeouts, { response: 75000 })
    assert.deepEqual(production.suspendOnFailure, { errorCodes: [101504, 'reset'], initialDuration: 45000, maximumDuration: 25000, progressionFactor: 3 })
    assert.deepEqual(production.markForSuspension, { errorCodes: [101503, 101504], retriesBeforeSuspension: 13000, retryDelay: 23000 })
    // Every field of the box sample is empty (null): the project's own endpoints stay.
    const sample = apiOf((await importWso2Project(fixture('pizzashack'), { params: await readWso2Params(fixture('params/api_params_sample.yaml'), undefined) })).yaml)
    assert.equal(sample.endpoints.production.url, 'https://localhost:9443/am/sample/pizzashack/v1/api/')
  })

  test('${VAR} in a params file: values taken from the environment as apictl does, secrets read by the gateway from the same variable', async () => {
    const file = join(work, 'variables.yaml')
    const text = await readFile(fixture('params/api_params_full.yaml'), 'utf8')
    await writeFile(file, text.replace('url: https://prod.wso2.com', 'url: ${PIZZA_PROD_URL}').replace(/password: admin/, 'password: ${PIZZA_PROD_PASSWORD}'))
    delete process.env.PIZZA_PROD_URL
    await assert.rejects(readWso2Params(file, 'production'), /environments\[production\]\.configs\.endpoints\.production\.url: \$\{PIZZA_PROD_URL\} is not set/)
    process.env.PIZZA_PROD_URL = 'https://orders.internal:8443/pizza'
    const { yaml, report } = await importWso2Project(fixture('pizzashack'), { params: await readWso2Params(file, 'production') })
    const { production } = apiOf(yaml).endpoints
    assert.equal(production.url, 'https://orders.internal:8443/pizza')
    assert.equal(production.security.auth.password, '${env:PIZZA_PROD_PASSWORD}')
    assert.ok(report.variables.has('PIZZA_PROD_PASSWORD'))
  })

  test('the command line: --params with -e, an unknown environment, and -e without --params', async () => {
    const file = join(work, 'two-environments.yaml')
    const failover = parseYaml(await readFile(fixture('params/api_params_http_rest_endpoint_with_failover.yaml'), 'utf8')) as Json
    const balanced = parseYaml(await readFile(fixture('params/api_params_http_rest_endpoint_with_load_balancing.yaml'), 'utf8')) as Json
    await writeFile(file, stringify({ environments: [{ ...failover.environments[0], name: 'dev' }, { ...balanced.environments[0], name: 'prod' }] }))
    const prod = await runCli(['import', 'wso2', fixture('pizzashack'), '--params', file, '-e', 'prod'])
    assert.equal(apiOf(prod.stdout).endpoints.production.type, 'loadbalance')
    const unnamed = await runCli(['import', 'wso2', fixture('pizzashack'), '--params', file])
    assert.equal(unnamed.code, 1)
    assert.match(unnamed.stderr, /has 2 environments \("dev", "prod"\): choose one with --environment/)
    const unknown = await runCli(['import', 'wso2', fixture('pizzashack'), '--params', file, '-e', 'qa'])
    assert.match(unknown.stderr, /has no environment "qa" \(it has "dev", "prod"\)/)
    assert.equal((await runCli(['import', 'wso2', fixture('pizzashack'), '-e', 'prod'])).code, 2)
  })
})

describe("WSO2's Prototype endpoint", () => {
  test('a PUBLISHED API whose endpointConfig still says prototyped gets real endpoints, as WSO2 serves it', async () => {
    const project = await editedCopy('prototype-endpoint', 'api.yaml', (text) => text.replace('lifeCycleStatus: PROTOTYPED', 'lifeCycleStatus: PUBLISHED'), 'prototype-published')
    const { endpoints, lifecycle } = apiOf((await importWso2Project(project)).yaml)
    assert.equal(lifecycle, 'PUBLISHED')
    assert.equal(endpoints.production.type, 'http')
  })

  test('a PROTOTYPED API with the Publisher\'s prototype endpointConfig becomes prototype backends and is served while PROTOTYPED', async () => {
    const backend = await startEchoBackend('prototype')
    const project = await editedCopy('prototype-endpoint', 'api.yaml', (text) => text.replaceAll('https://localhost:9443', backend.url), 'prototype-endpoint-live')
    const { yaml } = await importWso2Project(project)
    const api = apiOf(yaml)
    assert.equal(api.lifecycle, 'PROTOTYPED')
    assert.equal(api.endpoints.production.type, 'prototype')
    assert.equal(api.endpoints.production.url, `${backend.url}/am/sample/pizzashack/v1/api/`)
    const gateway = await startGateway(yaml)
    try {
      const response = await request(`${gateway.url}/pizzashack/1.0.0/menu`, { headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(response.statusCode, 200)
      assert.equal(((await response.body.json()) as { url: string }).url, '/am/sample/pizzashack/v1/api/menu')
    } finally {
      await gateway.close()
    }
    // Published without new endpoints, the prototype backend no longer serves it.
    const published = await startGateway(yaml.replace('lifecycle: PROTOTYPED', 'lifecycle: PUBLISHED'))
    try {
      const response = await request(`${published.url}/pizzashack/1.0.0/menu`)
      assert.equal(response.statusCode, 503)
      assert.equal(((await response.body.json()) as { code: string }).code, 'PROTOTYPE_NOT_SERVED')
    } finally {
      await published.close()
      await backend.close()
    }
  })
})
