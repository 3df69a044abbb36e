import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import * as soap from 'soap'
import { request } from 'undici'
import { z } from 'zod'
import { ConfigError, parseConfig } from '../src/config/load.ts'
import { problemText } from '../src/core/problem.ts'
import { WsdlBundle, WsdlProblem, wsdlFileProblem } from '../src/soap/wsdl.ts'
import { startBackend, type TestBackend } from './support/backend.ts'
import { startGateway, type TestGateway } from './support/gateway.ts'
import { FIXTURES } from './support/soap-service.ts'

/** Real WSDLs of public services; their origins and licenses are in test/fixtures/soap/public/README.md. */
const PUBLIC = `${FIXTURES}public/`
const DNE = `${PUBLIC}dneonline-calculator.wsdl`
const TEMPCONVERT = `${PUBLIC}w3schools-tempconvert.wsdl`
const UNDECLARED = `${PUBLIC}w3schools-tempconvert-undeclared.wsdl`
const BLZ = `${PUBLIC}thomas-bayer-blzservice.wsdl`
const GATEWAY = 'http://gateway.example/api/v1'

/** The DNE Online calculator, served by the `soap` package where its WSDL says: the relative /calculator/calculator.asmx. */
async function startDneCalculator(): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer()
  const operations = {
    Add: (args: { intA: string; intB: string }) => ({ AddResult: Number(args.intA) + Number(args.intB) }),
    Subtract: (args: { intA: string; intB: string }) => ({ SubtractResult: Number(args.intA) - Number(args.intB) }),
    Multiply: (args: { intA: string; intB: string }) => ({ MultiplyResult: Number(args.intA) * Number(args.intB) }),
    Divide: (args: { intA: string; intB: string }) => ({ DivideResult: Math.trunc(Number(args.intA) / Number(args.intB)) }),
  }
  await new Promise<void>((resolve, reject) => {
    soap.listen(server, {
      path: '/calculator/calculator.asmx',
      services: { Calculator: { CalculatorSoap: operations, CalculatorSoap12: operations } },
      xml: readFileSync(DNE, 'utf8'),
      suppressStack: true,
      callback: (error: unknown) => (error ? reject(error) : resolve()),
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function configProblems(yaml: string): string[] {
  try {
    parseConfig(yaml, 'soap.yaml')
    return []
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    return error.issues.map((issue) => `${issue.path}: ${issue.message}`)
  }
}

describe('a .NET WSDL with a relative soap:address (DNE Online calculator)', () => {
  let calculator: Awaited<ReturnType<typeof startDneCalculator>>
  let withCredentials: TestBackend
  let gateway: TestGateway

  before(async () => {
    calculator = await startDneCalculator()
    // The calculator's WSDL with an address that carries a user and password: the leaf refuses such a URL.
    withCredentials = await startBackend((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' })
      res.end(readFileSync(DNE, 'utf8').replaceAll('"/calculator/calculator.asmx"', `"http://calc-user:s3cret-in-url@127.0.0.1:${new URL(calculator.url).port}/calculator/calculator.asmx"`))
    })
    const api = (name: string, port: string, wsdl = `${calculator.url}/calculator/calculator.asmx?WSDL`) => `
  - name: ${name}
    context: /${name}
    version: v1
    soap: {}
    endpoints:
      production: { type: wsdl, wsdl: "${wsdl}", service: Calculator, port: ${port} }`
    gateway = await startGateway(`apis:${api('dne', 'CalculatorSoap')}${api('dne12', 'CalculatorSoap12')}${api('userinfo', 'CalculatorSoap', `${withCredentials.url}/calculator.asmx?wsdl`)}\n`)
  })

  after(async () => {
    await gateway?.close()
    await withCredentials?.close()
    await calculator?.close()
  })

  test('the address resolves against the URL the WSDL came from; the soap client calls through the gateway', async () => {
    const client = await soap.createClientAsync(`${gateway.url}/dne/v1?wsdl`)
    const [result] = await client.AddAsync({ intA: 3, intB: 2 })
    assert.equal(Number(result.AddResult), 5)
    assert.equal(client.lastEndpoint, `${gateway.url}/dne/v1`)
    const endpoints = (await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.json()) as unknown
    assert.match(JSON.stringify(endpoints), new RegExp(`"address":"${calculator.url}/calculator/calculator.asmx"`))
  })

  test('the served ?wsdl names only the gateway, for SOAP 1.1 and SOAP 1.2', async () => {
    const served = await (await request(`${gateway.url}/dne12/v1?wsdl`)).body.text()
    assert.match(served, new RegExp(`<soap:address location="${gateway.url}/dne12/v1"\\s*/>`))
    assert.match(served, new RegExp(`<soap12:address location="${gateway.url}/dne12/v1"\\s*/>`))
    assert.doesNotMatch(served, /calculator\.asmx/)
  })

  test('the SOAP 1.2 port answers through the gateway', async () => {
    const envelope =
      '<soap12:Envelope xmlns:soap12="http://www.w3.org/2003/05/soap-envelope"><soap12:Body><Multiply xmlns="http://tempuri.org/"><intA>6</intA><intB>7</intB></Multiply></soap12:Body></soap12:Envelope>'
    const response = await request(`${gateway.url}/dne12/v1`, {
      method: 'POST',
      body: envelope,
      headers: { 'content-type': 'application/soap+xml; charset=utf-8; action="http://tempuri.org/Multiply"' },
    })
    const text = await response.body.text()
    assert.equal(response.statusCode, 200, text)
    assert.match(text, /<MultiplyResult>42<\/MultiplyResult>/)
  })

  test('as a local file it has no base to resolve against: validate refuses it and names the fix', () => {
    const problems = configProblems(`
apis:
  - { name: dne, context: /dne, version: v1, endpoints: { production: { type: wsdl, wsdl: "${DNE}", service: Calculator, port: CalculatorSoap } } }
`)
    assert.equal(problems.length, 1, problems.join('\n'))
    assert.match(
      problems[0]!,
      /^apis\[0\]\.endpoints\.production\.wsdl: port "CalculatorSoap" has the relative address "\/calculator\/calculator\.asmx".* was read from a file: set wsdl to the service's own WSDL URL \(such as https:\/\/host\/calculator\/calculator\.asmx\?wsdl\), or write the absolute address into the file$/,
    )
  })

  test('an address the leaf refuses is one readable line for the operator and the client, without the URL or its password', async () => {
    const response = await request(`${gateway.url}/userinfo/v1`, { method: 'POST', body: '<x/>', headers: { 'content-type': 'text/xml' } })
    const fault = await response.body.text()
    assert.equal(response.statusCode, 500)
    assert.match(fault, /ENDPOINT_UNAVAILABLE/)
    const admin = await (await request(`${gateway.adminUrl}/admin/endpoints`)).body.text()
    const problem = /"problem":"((?:[^"\\]|\\.)*)"/.exec(admin)?.[1]
    assert.equal(problem, 'url: must not carry credentials; configure backend security instead')
    for (const text of [fault, admin]) assert.doesNotMatch(text, /s3cret-in-url/)
  })
})

describe('every address that would bypass the gateway is rewritten', () => {
  let gateway: TestGateway

  before(async () => {
    gateway = await startGateway(`
apis:
  - { name: temp, context: /temp, version: v1, endpoints: { production: { type: wsdl, wsdl: "${TEMPCONVERT}", service: TempConvert, port: TempConvertSoap12 } } }
`)
  })

  after(async () => {
    await gateway?.close()
  })

  test('W3Schools TempConvert: SOAP 1.1, SOAP 1.2 and the HTTP POST binding all name the gateway', async () => {
    const served = await (await request(`${gateway.url}/temp/v1?wsdl`)).body.text()
    assert.doesNotMatch(served, /w3schools\.com\/xml\/tempconvert\.asmx/)
    for (const element of ['soap:address', 'soap12:address', 'http:address']) {
      assert.match(served, new RegExp(`<${element} location="${gateway.url}/temp/v1"\\s*/>`), element)
    }
    // A client built from the served WSDL finds its SOAP ports at the gateway.
    const client = await soap.createClientAsync(`${gateway.url}/temp/v1?wsdl`)
    const ports = (client as unknown as { wsdl: { definitions: { services: Record<string, { ports: Record<string, { location: string }> }> } } }).wsdl.definitions.services.TempConvert!.ports
    assert.deepEqual(Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, port.location])), {
      TempConvertSoap: `${gateway.url}/temp/v1`,
      TempConvertSoap12: `${gateway.url}/temp/v1`,
    })
  })

  test('Axis2 BLZService: the SOAP 1.1, SOAP 1.2 and HTTP ports at one address all name the gateway', async () => {
    const bundle = await WsdlBundle.load(BLZ, 1000)
    assert.equal(bundle.port('BLZService', 'BLZServiceSOAP12port_http').address, 'http://www.thomas-bayer.com/axis2/services/BLZService')
    const served = bundle.render({ kind: 'wsdl', name: '' }, GATEWAY)!
    assert.doesNotMatch(served, /thomas-bayer\.com\/axis2/)
    assert.equal(served.match(new RegExp(`location="${GATEWAY}"`, 'g'))?.length, 3)
    assert.match(served, new RegExp(`<http:address location="${GATEWAY}"/>`))
  })

  test('a WCF endpoint reference (wsa10:Address) beside the SOAP address names the gateway too', async () => {
    const wcf = `<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsa10="http://www.w3.org/2005/08/addressing">
  <wsdl:service name="S"><wsdl:port name="WSHttpBinding_IS" binding="b">
    <soap12:address location="http://backend.internal/S.svc"/>
    <wsa10:EndpointReference><wsa10:Address>http://backend.internal/S.svc</wsa10:Address><Identity xmlns="http://schemas.xmlsoap.org/ws/2006/02/addressingidentity"><Upn>svc@corp</Upn></Identity></wsa10:EndpointReference>
  </wsdl:port></wsdl:service>
</wsdl:definitions>`
    const server = await startBackend((_req, res) => res.end(wcf))
    try {
      const served = (await WsdlBundle.load(`${server.url}/S.svc?wsdl`, 1000)).render({ kind: 'wsdl', name: '' }, GATEWAY)!
      assert.doesNotMatch(served, /backend\.internal/)
      assert.match(served, new RegExp(`<wsa10:Address>${GATEWAY}</wsa10:Address><Identity`))
    } finally {
      await server.close()
    }
  })
})

describe('a WSDL with undeclared namespace prefixes', () => {
  const expected = /w3schools-tempconvert-undeclared\.wsdl uses namespace prefixes it never declares, so it is not namespace-well-formed XML: "soap12" \(first on <soap12:binding>\): declare it, likely as xmlns:soap12="http:\/\/schemas\.xmlsoap\.org\/wsdl\/soap12\/"; "http" \(first on <http:binding>\): declare it, likely as xmlns:http="http:\/\/schemas\.xmlsoap\.org\/wsdl\/http\/"/

  test('loading it names the prefixes and the missing declarations, not a missing SOAP port', async () => {
    await assert.rejects(WsdlBundle.load(UNDECLARED, 1000), (error: unknown) => error instanceof WsdlProblem && expected.test(error.message))
  })

  test('validate says the same for the file, even for the port whose own prefix is declared', () => {
    for (const port of ['TempConvertSoap', 'TempConvertSoap12']) {
      const problem = wsdlFileProblem(UNDECLARED, 'TempConvert', port)
      assert.match(problem ?? '', expected)
      assert.doesNotMatch(problem ?? '', /has no SOAP port/)
    }
    assert.equal(wsdlFileProblem(TEMPCONVERT, 'TempConvert', 'TempConvertSoap12'), undefined, 'the original declares them')
  })
})

describe('endpoint problem text', () => {
  test('a schema error becomes its fields and problems on one line; any other error its first line, bounded', () => {
    const schema = z.strictObject({ url: z.url(), pool: z.strictObject({ connections: z.number().int() }) })
    const parsed = schema.safeParse({ url: 'nope', pool: { connections: 1.5 } })
    assert.equal(parsed.success, false)
    assert.equal(problemText(parsed.error), 'url: Invalid URL; pool.connections: Invalid input: expected int, received number')
    assert.equal(problemText(new Error('first line\n    at internals (file.ts:1:1)\n{ "dump": true }')), 'first line')
    assert.equal(problemText(new Error('x'.repeat(2000))).length, 501)
    assert.equal(problemText('plain'), 'plain')
  })
})
