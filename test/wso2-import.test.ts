import assert from 'node:assert/strict'
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, test } from 'node:test'
import { zipSync } from 'fflate'
import { request } from 'undici'
import { parse as parseYaml } from 'yaml'
import { importWso2Project } from '../src/import/wso2.ts'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { runCli } from './support/cli.ts'
import { startGateway } from './support/gateway.ts'

const FIXTURES = fileURLToPath(new URL('./fixtures/wso2/', import.meta.url))
const fixture = (name: string) => join(FIXTURES, name)

type Json = Record<string, any>

/** The one API of an imported config. */
function apiOf(yaml: string): Json {
  return (parseYaml(yaml) as { apis: Json[] }).apis[0]!
}

const locations = (left: Array<{ location: string }>) => left.map((part) => part.location)

/** What every imported leaf states when WSO2's endpoint config leaves suspension unset: Synapse's defaults. */
const WSO2_SUSPENSION = { suspendOnFailure: { initialDuration: 30000 }, markForSuspension: { errorCodes: [101504, 101505] } }

/** A copy of a fixture project in a temporary directory, with `edit` applied to its api.yaml. */
async function editedCopy(dir: string, name: string, edit: (text: string) => string): Promise<string> {
  const target = join(dir, name)
  await cp(fixture(name), target, { recursive: true })
  await writeFile(join(target, 'api.yaml'), edit(await readFile(join(target, 'api.yaml'), 'utf8')))
  return target
}

describe('importing WSO2 API Manager projects', () => {
  let work: string
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'portico-wso2-'))
  })
  after(async () => {
    await rm(work, { recursive: true, force: true })
  })

  test('the PizzaShack export: resources with merged verbs, an http endpoint, Basic credentials as an env reference', async () => {
    const { yaml, report } = await importWso2Project(fixture('pizzashack'))
    const api = apiOf(yaml)
    assert.equal(api.name, 'PizzaShackAPI')
    assert.equal(api.context, '/pizzashack')
    assert.equal(api.version, '1.0.0')
    assert.equal(api.lifecycle, 'PUBLISHED')
    assert.deepEqual(api.resources, [
      { uriTemplate: '/order', methods: ['POST'] },
      { uriTemplate: '/menu', methods: ['GET'] },
      { uriTemplate: '/order/{orderId}', methods: ['GET', 'PUT', 'DELETE'] },
    ])
    assert.deepEqual(api.endpoints.production, {
      type: 'http',
      url: 'https://localhost:9443/am/sample/pizzashack/v1/api/',
      ...WSO2_SUSPENSION,
      security: { auth: { type: 'basic', username: 'admin', password: '${env:PIZZASHACKAPI_PRODUCTION_PASSWORD}' } },
    })
    // The sandbox's security is disabled in the project.
    assert.deepEqual(api.endpoints.sandbox, { type: 'http', url: 'https://localhost:9443/am/sample/pizzashack/v1/api/', ...WSO2_SUSPENSION })
    assert.doesNotMatch(yaml, /password: admin/)
    assert.deepEqual([...report.variables.keys()], ['PIZZASHACKAPI_PRODUCTION_PASSWORD'])
    // The operations ask for OAuth2 tokens, which Portico does not check: that is said, not dropped.
    assert.deepEqual(locations(report.leftOut), ['api.yaml: data.securityScheme'])
  })

  test('the imported PizzaShack API runs: the gateway calls a real backend with the Basic credentials from the environment', async () => {
    const backend: TestBackend = await startEchoBackend('pizzashack')
    const project = await editedCopy(work, 'pizzashack', (text) => text.replaceAll('https://localhost:9443', backend.url))
    process.env.PIZZASHACKAPI_PRODUCTION_PASSWORD = 'pizza-secret'
    const { yaml } = await importWso2Project(project)
    const gateway = await startGateway(yaml)
    try {
      const response = await request(`${gateway.url}/pizzashack/1.0.0/order/42`, { headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(response.statusCode, 200)
      const seen = (await response.body.json()) as { url: string; headers: Record<string, string> }
      assert.equal(seen.url, '/am/sample/pizzashack/v1/api/order/42')
      assert.equal(seen.headers.authorization, `Basic ${Buffer.from('admin:pizza-secret').toString('base64')}`)
      // The project has no POST on /menu: the gateway refuses it as WSO2 does.
      const refused = await request(`${gateway.url}/pizzashack/1.0.0/menu`, { method: 'POST', body: '{}', headersTimeout: 5000, bodyTimeout: 5000 })
      await refused.body.dump()
      assert.equal(refused.statusCode, 405)
      assert.equal(backend.requests.length, 1)
    } finally {
      delete process.env.PIZZASHACKAPI_PRODUCTION_PASSWORD
      await gateway.close()
      await backend.close()
    }
  })

  test('a failover endpoint: the primary and its failovers in order, with its timeout and suspension settings', async () => {
    const { yaml, report } = await importWso2Project(fixture('failover'))
    const { production, sandbox } = apiOf(yaml).endpoints
    assert.equal(production.type, 'failover')
    assert.deepEqual(
      production.endpoints.map((leaf: Json) => leaf.url),
      ['https://localhost:9443/am/sample/pizzashack/v3/api/3', 'https://localhost:9443/am/sample/pizzashack/v3/api/1'],
    )
    assert.deepEqual(production.endpoints[0].timeouts, { response: 2000 })
    assert.deepEqual(production.endpoints[0].suspendOnFailure, { errorCodes: [101504, 101505], initialDuration: 30000, maximumDuration: 120000, progressionFactor: 2 })
    assert.deepEqual(production.endpoints[0].markForSuspension, { errorCodes: [101503], retriesBeforeSuspension: 2, retryDelay: 500 })
    assert.deepEqual(
      sandbox.endpoints.map((leaf: Json) => leaf.url),
      ['https://localhost:9443/am/sample/pizzashack/v3/api/2', 'https://localhost:9443/am/sample/pizzashack/v3/api/4'],
    )
    assert.deepEqual(locations(report.leftOut), ['api.yaml: data.securityScheme'])
  })

  test('the imported failover group fails over: a dead primary, the request answered by the failover backend', async () => {
    const backend = await startEchoBackend('failover')
    const dead = await startEchoBackend('dead')
    const deadUrl = dead.url
    await dead.close()
    const project = await editedCopy(work, 'failover', (text) =>
      text.replace('https://localhost:9443/am/sample/pizzashack/v3/api/3', `${deadUrl}/primary`).replace('https://localhost:9443/am/sample/pizzashack/v3/api/1', `${backend.url}/secondary`),
    )
    const gateway = await startGateway((await importWso2Project(project)).yaml)
    try {
      const response = await request(`${gateway.url}/pizzashack/1.0.0/menu`, { headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(response.statusCode, 200)
      assert.equal(((await response.body.json()) as { url: string }).url, '/secondary/menu')
    } finally {
      await gateway.close()
      await backend.close()
    }
  })

  test('WSO2 default throttling policies by name: the advanced policy of the API and the tier of each resource; a second tier on one resource is reported', async () => {
    let operation = 0
    const tiers = ['Gold', 'Unlimited', 'Silver', 'Bronze']
    const project = await editedCopy(work, 'failover', (text) =>
      text
        .replace('apiThrottlingPolicy: Unlimited', 'apiThrottlingPolicy: 10KPerMin')
        .replace(/throttlingPolicy: Unlimited/g, (match) => (operation < tiers.length ? `throttlingPolicy: ${tiers[operation++]}` : match)),
    )
    const { yaml, report } = await importWso2Project(project)
    const api = apiOf(yaml)
    assert.deepEqual(api.throttling, { policies: ['10KPerMin'] })
    const byTemplate = Object.fromEntries(api.resources.map((resource: Json) => [resource.uriTemplate, resource.throttling]))
    assert.deepEqual(byTemplate['/order'], { policies: ['Gold'] })
    assert.equal(byTemplate['/menu'], undefined, 'Unlimited limits nothing')
    assert.deepEqual(byTemplate['/order/{orderId}'], { policies: ['Silver'] })
    assert.deepEqual(locations(report.leftOut), ['api.yaml: data.operations[3].throttlingPolicy', 'api.yaml: data.securityScheme'])
    assert.match(report.leftOut[0]!.message, /"Bronze" is not applied: resource \/order\/\{orderId\} has "Silver"/)
  })

  test('maxTps per environment becomes each leaf its own capacity.maxTps; on a failover group it is reported', async () => {
    const single = await editedCopy(work, 'pizzashack', (text) => text.replace(/( *)apiThrottlingPolicy: (\S+)/, '$1apiThrottlingPolicy: $2\n$1maxTps: { production: 100, sandbox: 10 }'))
    const { endpoints } = apiOf((await importWso2Project(single)).yaml)
    assert.deepEqual(endpoints.production.capacity, { maxTps: 100 })
    assert.deepEqual(endpoints.sandbox.capacity, { maxTps: 10 })
    const group = await editedCopy(work, 'failover', (text) => text.replace(/( *)apiThrottlingPolicy: (\S+)/, '$1apiThrottlingPolicy: $2\n$1maxTps: { production: 100 }'))
    const { report } = await importWso2Project(group)
    assert.ok(locations(report.leftOut).includes('api.yaml: data.maxTps.production'))
  })

  test('a load-balanced endpoint: round robin, transport sessions as a cookie session with the session timeout', async () => {
    const { yaml } = await importWso2Project(fixture('loadbalance'))
    const { production } = apiOf(yaml).endpoints
    assert.equal(production.type, 'loadbalance')
    assert.equal(production.algorithm, 'roundRobin')
    assert.deepEqual(production.session, { type: 'cookie', timeout: 60000 })
    assert.equal(production.endpoints.length, 2)
    // Empty WSO2 settings ("") are defaults, not values.
    assert.deepEqual(production.endpoints[1], { type: 'http', url: 'https://localhost:9443/am/sample/pizzashack/v3/api/4', timeouts: { response: 180000 }, ...WSO2_SUSPENSION })
  })

  test('a default endpoint becomes dynamic, routed by the converted IN sequence, allowed only the origins the sequence names', async () => {
    const { yaml, report } = await importWso2Project(fixture('dynamic'))
    const api = apiOf(yaml)
    assert.deepEqual(api.endpoints.production, { type: 'dynamic', allow: [{ host: 'jsonplaceholder.typicode.com', schemes: ['http'], ports: [80] }], ...WSO2_SUSPENSION })
    assert.deepEqual(api.inSequence[1], { setTarget: { expression: '("service_ep" in properties ? properties["service_ep"] : "")' } })
    assert.match(report.notes.join('\n'), /review the dynamic endpoint's allow-list \(jsonplaceholder\.typicode\.com\)/)
  })

  test('a default endpoint without a sequence gets an allow-list that matches nothing, and is reported', async () => {
    const project = await editedCopy(work, 'dynamic', (text) =>
      text
        .replace(/  mediationPolicies:\n(   .*\n)+/, '  mediationPolicies: []\n')
        .replace('      url: default\n  endpointImplementationType', '      url: default\n    endpoint_security:\n      production: { enabled: true, type: BASIC, username: admin, password: admin }\n  endpointImplementationType'),
    )
    await rm(join(project, 'Sequences'), { recursive: true })
    const { yaml, report } = await importWso2Project(project)
    assert.deepEqual(apiOf(yaml).endpoints.production.allow, [{ host: 'change-me.invalid' }])
    assert.ok(report.leftOut.some((part) => part.location === 'api.yaml: data.endpointConfig' && /IN sequence/.test(part.message)))
    // The Basic credentials of the project have no endpoint to go on: reported, not dropped.
    assert.ok(locations(report.leftOut).includes('api.yaml: data.endpointConfig.endpoint_security.production'))
    assert.deepEqual([...report.variables.keys()], [])
  })

  test('an AWS Lambda endpoint: a function per resource, stored keys as env references, the assumed role', async () => {
    const { yaml, report } = await importWso2Project(fixture('lambda'))
    const [messages, models] = apiOf(yaml).resources
    assert.equal(apiOf(yaml).endpoints, undefined)
    assert.equal(messages.endpoints.production.function, 'arn:aws:lambda:us-east-1:123456789012:function:messages')
    assert.equal(messages.endpoints.production.region, undefined)
    assert.deepEqual(messages.endpoints.production.timeouts, { response: 50000 })
    assert.equal(models.endpoints.production.function, 'models')
    assert.equal(models.endpoints.production.region, 'us-east-1')
    assert.equal(models.endpoints.sandbox.eventFormat, 'wso2')
    assert.deepEqual(models.endpoints.production.credentials, {
      type: 'assume-role',
      roleArn: 'arn:aws:iam::123456789012:role/wso2-invoker',
      source: { type: 'static', accessKeyId: '${env:ANTHROPICAPIS_AWS_ACCESS_KEY_ID}', secretAccessKey: '${env:ANTHROPICAPIS_AWS_SECRET_ACCESS_KEY}' },
      sessionName: 'wso2-apim',
      region: 'us-east-1',
    })
    assert.doesNotMatch(yaml, /wJalrXUtnFEMI|AKIAIOSFODNN7EXAMPLE/)
    assert.deepEqual(locations(report.leftOut), ['api.yaml: data.securityScheme', 'api.yaml: data.corsConfiguration', 'api.yaml: data.subtypeConfiguration'])
  })

  test('an address endpoint becomes soap; OAuth client credentials and Digest keep their secrets in the environment', async () => {
    const { yaml, report } = await importWso2Project(fixture('soap-oauth'))
    const { production, sandbox } = apiOf(yaml).endpoints
    assert.equal(production.type, 'soap')
    assert.deepEqual(production.timeouts, { response: 30000 })
    assert.deepEqual(production.security.auth, {
      type: 'oauth2',
      tokenUrl: 'https://prod.token.com',
      grantType: 'client_credentials',
      clientId: 'Poc7i6mTj0ac3LyTW0szFzdt1gwa',
      clientSecret: '${env:PIZZASHACKAPI_PRODUCTION_CLIENT_SECRET}',
    })
    assert.deepEqual(sandbox.security.auth, { type: 'digest', username: 'admin', password: '${env:PIZZASHACKAPI_SANDBOX_PASSWORD}' })
    assert.doesNotMatch(yaml, /edDEOOjlY0kgClxVlntwWVFve64a/)
    // Every operation has authType None: nothing is left out.
    assert.deepEqual(report.leftOut, [])
  })

  test('a prototyped API answers from its definition; the inline script is reported', async () => {
    const { yaml, report } = await importWso2Project(fixture('prototype'))
    const api = apiOf(yaml)
    assert.equal(api.lifecycle, 'PROTOTYPED')
    assert.deepEqual(api.endpoints.production, { type: 'prototype', openapi: join(FIXTURES, 'prototype/Definitions/swagger.yaml') })
    assert.deepEqual(api.resources, [
      { uriTemplate: '/pets', methods: ['GET', 'POST'] },
      { uriTemplate: '/pets/{petId}', methods: ['GET'] },
    ])
    assert.ok(locations(report.leftOut).includes('Definitions/swagger.yaml: paths./pets.get.x-mediation-script'))
    const gateway = await startGateway(yaml)
    try {
      const response = await request(`${gateway.url}/petstore/1.0.0/pets/7`, { headersTimeout: 5000, bodyTimeout: 5000 })
      assert.equal(response.statusCode, 200)
      // The definition's 200 answer for this operation is a list of pets (`Pets`), generated from its schema.
      const pets = (await response.body.json()) as Array<{ id: unknown; name: unknown }>
      assert.ok(Array.isArray(pets))
      for (const pet of pets) assert.equal(typeof pet.id, 'number')
    } finally {
      await gateway.close()
    }
  })

  test('an API Manager 3.2 export: the internal model, endpointConfig as JSON text, {version} taken off the context', async () => {
    const { yaml, report } = await importWso2Project(fixture('legacy-3.2'))
    const api = apiOf(yaml)
    assert.equal(api.name, 'UserAPI')
    assert.equal(api.context, '/user')
    assert.equal(api.version, '2.0')
    assert.equal(api.defaultVersion, true)
    assert.deepEqual(api.resources, [
      { uriTemplate: '/users/{id}', methods: ['GET'] },
      { uriTemplate: '/users', methods: ['POST'] },
    ])
    assert.deepEqual(api.endpoints.production, { type: 'http', url: 'http://localhost:8595/users', ...WSO2_SUSPENSION })
    assert.deepEqual(report.leftOut, [])
  })

  test('a zip as apictl writes it (one folder inside) imports like the directory', async () => {
    const files: Record<string, Uint8Array> = {}
    const root = fixture('pizzashack')
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files[`PizzaShackAPI-1.0.0/${relative(root, join(entry.parentPath, entry.name))}`] = await readFile(join(entry.parentPath, entry.name))
    }
    const zip = join(work, 'PizzaShackAPI-1.0.0.zip')
    await writeFile(zip, zipSync(files))
    const fromZip = await importWso2Project(zip)
    const fromDirectory = await importWso2Project(root)
    assert.deepEqual(apiOf(fromZip.yaml), apiOf(fromDirectory.yaml))
    assert.deepEqual(fromZip.report.leftOut, fromDirectory.report.leftOut)
    // As macOS's "Compress" writes it: resource forks under __MACOSX/ and a .DS_Store beside the project.
    const clutter = new TextEncoder().encode('\u0000\u0005\u0016\u0007')
    const finder = join(work, 'PizzaShackAPI-1.0.0-mac.zip')
    await writeFile(finder, zipSync({ ...files, '__MACOSX/PizzaShackAPI-1.0.0/._api.yaml': clutter, 'PizzaShackAPI-1.0.0/.DS_Store': clutter, '.DS_Store': clutter }))
    const fromFinder = await importWso2Project(finder)
    assert.deepEqual(apiOf(fromFinder.yaml), apiOf(fromDirectory.yaml))
    assert.deepEqual(fromFinder.report.leftOut, fromDirectory.report.leftOut, 'the clutter is not reported as project files')
  })

  test('sequences: what the sequence importer cannot convert, fault sequences and policies are reported with file and place', async () => {
    const project = await editedCopy(work, 'pizzashack', (text) =>
      text
        .replace('  mediationPolicies: []\n', '  mediationPolicies:\n   - { name: audit-out, type: OUT, shared: false }\n   - { name: fault-log, type: FAULT, shared: false }\n')
        .replace('    target: /menu\n    verb: GET\n    authType: Application & Application User\n    throttlingPolicy: Unlimited\n    scopes: []', '    target: /menu\n    verb: GET\n    authType: Application & Application User\n    throttlingPolicy: CustomTier\n    scopes: [menu_read]')
        .replace('      request: []\n', '      request:\n       - { policyName: addHeader, policyVersion: v1, parameters: { headerName: X-Shop } }\n'),
    )
    await mkdir(join(project, 'Sequences/out-sequence/Custom'), { recursive: true })
    await mkdir(join(project, 'Sequences/fault-sequence/Custom'), { recursive: true })
    await writeFile(
      join(project, 'Sequences/out-sequence/Custom/audit-out.xml'),
      '<sequence xmlns="http://ws.apache.org/ns/synapse" name="audit-out"><property name="X-Audited" value="yes" scope="transport"/><call><endpoint key="audit"/></call></sequence>',
    )
    await writeFile(join(project, 'Sequences/fault-sequence/Custom/fault-log.xml'), '<sequence xmlns="http://ws.apache.org/ns/synapse" name="fault-log"><log/></sequence>')
    const { yaml, report } = await importWso2Project(project)
    assert.deepEqual(apiOf(yaml).outSequence, [{ header: { name: 'X-Audited', value: 'yes' } }])
    const left = locations(report.leftOut)
    for (const location of [
      'Sequences/out-sequence/Custom/audit-out.xml: sequence/call',
      'Sequences/fault-sequence/Custom/fault-log.xml',
      'api.yaml: data.mediationPolicies',
      'api.yaml: data.operations[1].throttlingPolicy',
      'api.yaml: data.operations[1].scopes',
      'api.yaml: data.operations[0].operationPolicies.request[0]',
    ]) {
      assert.ok(left.includes(location), `${location} in ${left.join(', ')}`)
    }
    assert.match(report.leftOut.find((part) => part.location.endsWith('request[0]'))!.message, /"addHeader"/)
  })

  test('a prototype from a zip: the definition is written beside the config, where the gateway reads it', async () => {
    const files: Record<string, Uint8Array> = {}
    const root = fixture('prototype')
    for (const entry of await readdir(root, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) files[relative(root, join(entry.parentPath, entry.name))] = await readFile(join(entry.parentPath, entry.name))
    }
    const zip = join(work, 'PetstorePrototype.zip')
    await writeFile(zip, zipSync(files))
    const output = join(work, 'out')
    await mkdir(output)
    const { yaml, written } = await importWso2Project(zip, { definitionDirectory: output })
    assert.deepEqual(written, [join(output, 'PetstorePrototype-1.0.0.swagger.yaml')])
    assert.equal(apiOf(yaml).endpoints.production.openapi, written[0])
    assert.deepEqual(await readFile(written[0]!), await readFile(join(root, 'Definitions/swagger.yaml')))
  })

  test('a wsdl endpoint names its service and port; unknown settings are reported by name and place', async () => {
    const project = await editedCopy(work, 'soap-oauth', (text) =>
      text
        .replace('endpoint_type: address', 'endpoint_type: wsdl\n    wsdlendpointService: CalculatorService\n    wsdlendpointPort: CalculatorSoap')
        .replace(/url: https:\/\/localhost:9443\/services\/PizzaShackService/g, 'url: http://localhost:9443/services/Calculator?wsdl')
        .replace('actionDuration: "30000"', 'actionDuration: "30000"\n        somethingNew: "1"')
        .replace('responseCachingEnabled: false', 'responseCachingEnabled: true\n  maxTps:\n    production: 10'),
    )
    const { yaml, report } = await importWso2Project(project)
    const { production } = apiOf(yaml).endpoints
    assert.equal(production.type, 'wsdl')
    assert.equal(production.wsdl, 'http://localhost:9443/services/Calculator?wsdl')
    assert.equal(production.service, 'CalculatorService')
    assert.equal(production.port, 'CalculatorSoap')
    assert.deepEqual(production.capacity, { maxTps: 10 }, 'maxTps is converted, not reported')
    assert.deepEqual(locations(report.leftOut).sort(), [
      // The sandbox has no address (below), so its Digest credentials have nowhere to go.
      'api.yaml: data.endpointConfig.endpoint_security.sandbox',
      'api.yaml: data.endpointConfig.production_endpoints.config.somethingNew',
      // The sandbox has no wsdlendpointServiceSandbox / wsdlendpointPortSandbox to name its address.
      'api.yaml: data.endpointConfig.sandbox_endpoints',
      'api.yaml: data.responseCachingEnabled',
    ])
    assert.match(report.leftOut.find((part) => part.location.endsWith('sandbox_endpoints'))!.message, /wsdlendpointServiceSandbox/)
    assert.equal(apiOf(yaml).endpoints.sandbox, undefined)
  })
})

describe('portico import wso2 (command line)', () => {
  let work: string
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'portico-wso2-cli-'))
  })
  after(async () => {
    await rm(work, { recursive: true, force: true })
  })

  test('exit 0 when everything converted; the variables to set are listed on stderr', async () => {
    const result = await runCli(['import', 'wso2', fixture('soap-oauth')])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(apiOf(result.stdout).name, 'PizzaShackAPI')
    assert.match(result.stderr, /PIZZASHACKAPI_PRODUCTION_CLIENT_SECRET/)
    assert.doesNotMatch(result.stderr, /not converted/)
  })

  test('exit 1 when something was left out, each part listed with its location; -o writes the file', async () => {
    const output = join(work, 'pizzashack.yaml')
    const result = await runCli(['import', 'wso2', fixture('pizzashack'), '-o', output])
    assert.equal(result.code, 1)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /not converted: api\.yaml: data\.securityScheme: client authentication/)
    assert.match(result.stderr, /1 part\(s\) of .* not converted/)
    assert.equal(apiOf(await readFile(output, 'utf8')).name, 'PizzaShackAPI')
  })

  test('exit 1 with the reason when the project is not one, or converts to a config the gateway refuses', async () => {
    const empty = join(work, 'empty')
    await mkdir(empty)
    const missing = await runCli(['import', 'wso2', empty])
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /has no api\.yaml or api\.json/)
    const project = await editedCopy(work, 'soap-oauth', (text) => text.replace('services/PizzaShackService\n      config', 'services/{uri.var.shop}/PizzaShackService\n      config'))
    const refused = await runCli(['import', 'wso2', project])
    assert.equal(refused.code, 1)
    assert.match(refused.stderr, /imported\.yaml:\d+:\d+: apis\[0\]\.endpoints\.production\.url: uses \{shop\}/)
    const product = join(work, 'product')
    await mkdir(product)
    await writeFile(join(product, 'api.yaml'), 'type: api_product\nversion: v4.3.0\ndata:\n  name: Shop\n')
    const notAnApi = await runCli(['import', 'wso2', product])
    assert.equal(notAnApi.code, 1)
    assert.match(notAnApi.stderr, /holds a "api_product", not an API/)
    assert.equal(refused.stdout, '')
  })

  test('exit 2 for usage errors', async () => {
    assert.equal((await runCli(['import', 'wso2'])).code, 2)
    assert.equal((await runCli(['import', 'wso2', fixture('pizzashack'), '--bogus'])).code, 2)
    assert.equal((await runCli(['import', 'wso2', 'one', 'two'])).code, 2)
  })
})
