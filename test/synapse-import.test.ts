import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { request } from 'undici'
import { stringify } from 'yaml'
import { parseConfig } from '../src/config/load.ts'
import { importSynapseSequence } from '../src/import/synapse.ts'
import type { MediatorConfig } from '../src/mediation/schema.ts'
import { startEchoBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'

const FIXTURES = new URL('./fixtures/synapse/', import.meta.url)
const fixture = (name: string) => readFile(new URL(name, FIXTURES), 'utf8')

/** A gateway config with one API whose IN sequence is `mediators` and whose endpoint is dynamic. */
function configWith(mediators: MediatorConfig[], allow: Array<{ host: string; ports?: number[] }>): string {
  return stringify({
    apis: [{ name: 'imported', context: '/imported', version: 'v1', inSequence: mediators, endpoints: { production: { type: 'dynamic', allow } } }],
  })
}

async function get(gateway: TestGateway, path: string, headers: Record<string, string> = {}) {
  const response = await request(`${gateway.url}${path}`, { headers, headersTimeout: 5000, bodyTimeout: 5000 })
  return { status: response.statusCode, json: (await response.body.json()) as { backend: string; url: string; headers: Record<string, string> } }
}

describe('importing WSO2 Synapse sequences', () => {
  let one: TestBackend
  let two: TestBackend

  before(async () => {
    one = await startEchoBackend('one')
    two = await startEchoBackend('two')
  })
  after(async () => {
    await one.close()
    await two.close()
  })

  test('the dynamic endpoint sequence from the API Manager docs becomes property + setTarget', async () => {
    const imported = importSynapseSequence(await fixture('default-endpoint-seq.xml'))
    assert.equal(imported.name, 'default-endpoint-seq')
    assert.deepEqual(imported.unsupported, [])
    assert.deepEqual(imported.mediators, [
      { property: { name: 'service_ep', expression: '"http://jsonplaceholder.typicode.com/" + "posts/"' } },
      { setTarget: { expression: '("service_ep" in properties ? properties["service_ep"] : "")' } },
    ])
    assert.doesNotThrow(() => parseConfig(configWith(imported.mediators, [{ host: 'jsonplaceholder.typicode.com' }])))
  })

  test('...and routes as it does in WSO2: to the address it builds, with the resource path appended', async () => {
    // The same sequence with the public host swapped for a local backend, so the route can be followed.
    const xml = (await fixture('default-endpoint-seq.xml')).replace('http://jsonplaceholder.typicode.com/', `${one.url}/`)
    const imported = importSynapseSequence(xml)
    const gateway = await startGateway(configWith(imported.mediators, [{ host: '127.0.0.1', ports: [one.port] }]))
    try {
      const response = await get(gateway, '/imported/v1/1/comments')
      assert.equal(response.status, 200)
      assert.equal(response.json.backend, 'one')
      assert.equal(response.json.url, '/posts/1/comments')
    } finally {
      await gateway.close()
    }
  })

  test("REST_URL_POSTFIX becomes a rewrite, and Synapse's own properties read the request: the backend sees both", async () => {
    const imported = importSynapseSequence(`<sequence xmlns="http://ws.apache.org/ns/synapse" name="postfix">
  <property name="sub" expression="$ctx:REST_SUB_REQUEST_PATH"/>
  <property name="X-Sub-Path" expression="get-property('sub')" scope="transport"/>
  <property name="X-Method" expression="get-property('REST_METHOD')" scope="transport"/>
  <property name="X-Api-Version" expression="get-property('SYNAPSE_REST_API_VERSION')" scope="transport"/>
  <property name="REST_URL_POSTFIX" value="/orders/open?sort=date" scope="axis2"/>
  <header name="To" value="${one.url}/shop"/>
</sequence>`)
    assert.deepEqual(imported.unsupported, [])
    assert.deepEqual(imported.mediators[4], { rewrite: { path: '/orders/open', query: 'sort=date' } })
    const gateway = await startGateway(configWith(imported.mediators, [{ host: '127.0.0.1', ports: [one.port] }]))
    try {
      const response = await get(gateway, '/imported/v1/customers/7?page=2')
      assert.equal(response.status, 200)
      assert.equal(response.json.url, '/shop/orders/open?sort=date', 'the postfix replaced the path and the query')
      assert.equal(response.json.headers['x-sub-path'], '/customers/7')
      assert.equal(response.json.headers['x-method'], 'GET')
      assert.equal(response.json.headers['x-api-version'], 'v1')
    } finally {
      await gateway.close()
    }
    // A postfix from an expression cannot be a rewrite: said, not guessed.
    const computed = importSynapseSequence(`<sequence xmlns="http://ws.apache.org/ns/synapse" name="p"><property name="REST_URL_POSTFIX" expression="get-property('x')" scope="axis2"/></sequence>`)
    assert.match(computed.unsupported[0]!.message, /REST_URL_POSTFIX is converted to a rewrite only as a literal value starting with "\/"/)
  })

  test('the version-routing sequence from the API Manager docs routes by the Version header like WSO2', async () => {
    const xml = (await fixture('dynamic-ep-version.xml'))
      .replaceAll('https://first.backend.url/1.0.0/', `${one.url}/1.0.0/`)
      .replaceAll('https://first.backend.url/2.0.0/', `${two.url}/2.0.0/`)
    const imported = importSynapseSequence(xml)
    assert.deepEqual(imported.unsupported, [])
    assert.deepEqual(
      imported.mediators.map((mediator) => Object.keys(mediator)[0]),
      ['switch', 'setTarget', 'property'],
    )
    const gateway = await startGateway(configWith(imported.mediators, [{ host: '127.0.0.1', ports: [one.port, two.port] }]))
    try {
      const cases: Array<[Record<string, string>, string, string]> = [
        [{ version: '1.0.0' }, 'one', '/1.0.0/customers/42'],
        [{ version: '1.0.0-beta' }, 'one', '/1.0.0/customers/42'],
        [{ version: '2.0.0' }, 'two', '/2.0.0/customers/42'],
        // "2.0.0" must match the whole value, as Java's Matcher.matches() does: 2.0.01 goes to the default.
        [{ version: '2.0.01' }, 'one', '/1.0.0/customers/42'],
        [{}, 'one', '/1.0.0/customers/42'],
      ]
      for (const [headers, backend, url] of cases) {
        const response = await get(gateway, '/imported/v1/42', headers)
        assert.equal(response.status, 200)
        assert.deepEqual({ backend: response.json.backend, url: response.json.url }, { backend, url }, JSON.stringify(headers))
      }
    } finally {
      await gateway.close()
    }
  })

  test('filter, log, transport properties and respond convert; everything else is reported by name', () => {
    const imported = importSynapseSequence(`
<sequence xmlns="http://ws.apache.org/ns/synapse" name="mixed" xmlns:m="http://services.samples">
  <filter source="$trp:Authorization" regex="Bearer .*">
    <then>
      <property name="X-Checked" value="yes" scope="transport"/>
      <log level="custom" category="WARN"><property name="symbol" expression="//m:symbol"/></log>
    </then>
    <else>
      <property name="HTTP_SC" value="401" scope="axis2"/>
      <respond/>
    </else>
  </filter>
  <filter xpath="json-eval($.order)"><send/></filter>
  <payloadFactory media-type="json"><format>{}</format></payloadFactory>
  <header name="Action" value="urn:getQuote"/>
  <property name="x" value="1" scope="registry"/>
</sequence>`)
    assert.deepEqual(imported.mediators[0], {
      filter: {
        source: { expression: '("authorization" in request.headers ? request.headers["authorization"] : "")' },
        regex: 'Bearer .*',
        then: [
          { header: { name: 'X-Checked', value: 'yes' } },
          { log: { level: 'warn', values: { symbol: { xpath: '//m:symbol', namespaces: { m: 'http://services.samples' } } } } },
        ],
        else: [{ property: { name: 'HTTP_SC', value: '401' } }, { respond: { status: 401, headers: {} } }],
      },
    })
    assert.deepEqual(
      imported.unsupported.map((problem) => `${problem.path}: ${problem.message}`),
      [
        'sequence/filter/else/respond: respond answers with an empty body; Synapse returns the current message, so put the body in respond.body',
        'sequence/filter/send: the send mediator is not supported',
        'sequence/payloadFactory: the payloadFactory mediator is not supported',
        'sequence/header: the SOAP header "Action" is not supported; only scope="transport" (HTTP) headers and To are',
        'sequence/property: the property scope "registry" has no equivalent; the value becomes an ordinary property',
      ],
    )
    assert.doesNotThrow(() => parseConfig(configWith(imported.mediators, [{ host: '127.0.0.1' }])))
  })

  test("WSO2's built-in json_to_xml_in_message and apply_accept_header: the payload conversion they ask of Synapse is named", () => {
    const imported = importSynapseSequence(`<sequence xmlns="http://ws.apache.org/ns/synapse" name="json_to_xml_in_message">
	<property name="messageType" value="application/xml" scope="axis2"/>
</sequence>`)
    assert.deepEqual(
      imported.unsupported.map((problem) => `${problem.path}: ${problem.message}`),
      ['sequence/property: messageType (axis2) makes Synapse convert the payload between JSON and XML; Portico passes the body unchanged'],
    )
  })

  test('portico import synapse prints the YAML, lists what it could not convert and exits 1 then', async () => {
    const run = promisify(execFile)
    const cli = new URL('../src/cli.ts', import.meta.url).pathname
    const ok = await run(process.execPath, [cli, 'import', 'synapse', new URL('default-endpoint-seq.xml', FIXTURES).pathname], { timeout: 10_000 })
    assert.match(ok.stdout, /^inSequence:\n {2}- property:\n {6}name: service_ep/)
    assert.equal(ok.stderr, '')
    const directory = await mkdtemp(join(tmpdir(), 'portico-synapse-'))
    const file = join(directory, 'drop.xml')
    await writeFile(file, '<sequence xmlns="http://ws.apache.org/ns/synapse"><log/><drop/></sequence>')
    try {
      const failed = await run(process.execPath, [cli, 'import', 'synapse', file], { timeout: 10_000 }).then(
        () => assert.fail('the import should fail'),
        (error: { code: number; stdout: string; stderr: string }) => error,
      )
      assert.equal(failed.code, 1)
      assert.match(failed.stdout, /- log:/)
      assert.match(failed.stderr, /sequence\/drop: the drop mediator is not supported\n1 part\(s\) of .* not converted/)
    } finally {
      await rm(directory, { recursive: true })
    }
  })
})
