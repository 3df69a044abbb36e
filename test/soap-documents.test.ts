import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { XMLParser } from 'fast-xml-parser'
import { isSoapFault } from '../src/soap/fault-detection.ts'
import { soapSessionId } from '../src/soap/session.ts'
import { WsdlBundle, wsdlQuery } from '../src/soap/wsdl.ts'
import { parseOrdered, parsePlain, XmlRefused } from '../src/soap/xml.ts'
import { startBackend } from './support/backend.ts'
import { FIXTURES } from './support/soap-service.ts'

const GATEWAY = 'http://gateway.example/calc/v1'

describe('WSDL documents', () => {
  test('WSDL 1.1 split in two plus an XSD: every import is served by the gateway under its own name', async () => {
    const bundle = await WsdlBundle.load(`${FIXTURES}split/service.wsdl`, 1000)
    assert.deepEqual(bundle.port('CalculatorService', 'CalculatorSoap11Port'), {
      service: 'CalculatorService',
      port: 'CalculatorSoap11Port',
      address: 'http://backend.invalid/calculator11',
      version: '1.1',
    })
    const root = bundle.render({ kind: 'wsdl', name: '' }, GATEWAY)!
    assert.match(root, /<wsdl:import namespace="http:\/\/example.com\/calculator" location="http:\/\/gateway.example\/calc\/v1\?wsdl=abstract.wsdl"\/>/)
    assert.match(root, /<soap:address location="http:\/\/gateway.example\/calc\/v1"\/>/)
    const abstract = bundle.render({ kind: 'wsdl', name: 'abstract.wsdl' }, GATEWAY)!
    assert.match(abstract, /schemaLocation="http:\/\/gateway.example\/calc\/v1\?xsd=calculator-types.xsd"/)
    assert.match(abstract, /<!-- The abstract half of a split WSDL/, 'comments are kept')
    assert.match(bundle.render({ kind: 'xsd', name: 'calculator-types.xsd' }, GATEWAY)!, /<xsd:element name="Divide">/)
    assert.equal(bundle.render({ kind: 'xsd', name: 'abstract.wsdl' }, GATEWAY), undefined, 'a WSDL is not served as an XSD')
    assert.equal(bundle.render({ kind: 'wsdl', name: 'service.wsdl' }, GATEWAY), undefined, 'the root is served only as ?wsdl')
  })

  test('the rest of a WSDL is served as written: text, entities and attributes untouched', async () => {
    const bundle = await WsdlBundle.load(`${FIXTURES}calculator11.wsdl`, 1000)
    const served = bundle.render({ kind: 'wsdl', name: '' }, GATEWAY)!
    assert.match(served, /<wsdl:documentation>A calculator over SOAP 1.1; 2 &lt; 3.<\/wsdl:documentation>/)
    assert.match(served, /<soap:operation soapAction="http:\/\/example.com\/calculator\/Divide"\/>/)
  })

  test('a gateway URL is escaped where it lands in an attribute', async () => {
    const bundle = await WsdlBundle.load(`${FIXTURES}calculator11.wsdl`, 1000)
    const served = bundle.render({ kind: 'wsdl', name: '' }, 'http://evil"><x/>')!
    assert.match(served, /location="http:\/\/evil&quot;&gt;&lt;x\/&gt;"/)
  })

  test('WSDL 2.0: the endpoint address is found and rewritten, its schema import served', async () => {
    const bundle = await WsdlBundle.load(`${FIXTURES}calculator20.wsdl`, 1000)
    assert.equal(bundle.port('CalculatorService', 'CalculatorEndpoint').address, 'http://backend.invalid/calculator20')
    const served = bundle.render({ kind: 'wsdl', name: '' }, GATEWAY)!
    assert.match(served, /<endpoint name="CalculatorEndpoint" binding="tns:CalculatorSoapBinding" address="http:\/\/gateway.example\/calc\/v1"\/>/)
    assert.match(served, /schemaLocation="http:\/\/gateway.example\/calc\/v1\?xsd=calculator-types.xsd"/)
  })

  test('an unknown service or port names the ports there are', async () => {
    const bundle = await WsdlBundle.load(`${FIXTURES}calculator12.wsdl`, 1000)
    assert.throws(() => bundle.port('CalculatorService', 'Nope'), /its SOAP ports \(service\/port\): CalculatorService\/CalculatorSoap12Port/)
  })

  test('?wsdl, ?WSDL, ?singleWsdl, ?wsdl=<name> and ?xsd=<name> are WSDL queries; other queries are not', () => {
    assert.deepEqual(wsdlQuery('wsdl'), { kind: 'wsdl', name: '' })
    assert.deepEqual(wsdlQuery('WSDL'), { kind: 'wsdl', name: '' })
    // WCF's, which would otherwise reach the backend and show its own addresses.
    assert.deepEqual(wsdlQuery('singleWsdl'), { kind: 'wsdl', name: '' })
    assert.deepEqual(wsdlQuery('xsd=types.xsd'), { kind: 'xsd', name: 'types.xsd' })
    assert.deepEqual(wsdlQuery('wsdl=abstract.wsdl'), { kind: 'wsdl', name: 'abstract.wsdl' })
    assert.equal(wsdlQuery('wsdlx'), undefined)
    assert.equal(wsdlQuery('id=3'), undefined)
  })
})

describe('XML safety', () => {
  const xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
  const laughs = '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><r>&c;</r>'

  test('every parser entry point refuses a DTD, so there is nothing to expand and nothing external to fetch', () => {
    for (const parse of [parseOrdered, parsePlain]) {
      assert.throws(() => parse(xxe), XmlRefused)
      assert.throws(() => parse(laughs), XmlRefused)
    }
  })

  test('a DTD in the middle of a document is refused too, and so is "<!DOCTYPE" anywhere, comments and CDATA included', () => {
    assert.throws(() => parsePlain('<r><!DOCTYPE x [<!ENTITY a "bbbb">]><c>&a;</c></r>'), XmlRefused)
    // A comment opener inside a processing instruction once hid a real DTD from a comment-stripping check.
    assert.throws(() => parsePlain('<?x <!-- ?><!DOCTYPE a [<!ENTITY e "PWN">]><!-- --><a>&e;</a>'), XmlRefused)
    assert.throws(() => parsePlain('<r><![CDATA[<!DOCTYPE html><p>page</p>]]></r>'), XmlRefused)
    assert.throws(() => parsePlain('<r><!-- <!DOCTYPE x> --></r>'), XmlRefused)
  })

  test('a document nested deeper than the parser allows is refused, not a crash', () => {
    const deep = `<r>${'<a>'.repeat(200_000)}${'</a>'.repeat(200_000)}</r>`
    assert.throws(() => parsePlain(deep), (error: unknown) => error instanceof XmlRefused && /Maximum nested tags exceeded/.test(error.message))
  })

  test('past the guard, fast-xml-parser by itself neither reads external entities nor expands entity definitions', () => {
    assert.throws(() => new XMLParser().parse(xxe), /External entities are not supported/)
    const parsed = new XMLParser().parse(laughs) as { r: string }
    assert.ok(!parsed.r.includes('aaaaaaaaaa'), `entities expanded: ${parsed.r.slice(0, 40)}`)
  })

  test('a SOAP Fault is recognised in either version, and only in the Body of an envelope', () => {
    const fault11 = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode></s:Fault></s:Body></s:Envelope>'
    const fault12 = '<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header/><Body><Fault><Code><Value>Receiver</Value></Code></Fault></Body></Envelope>'
    const answer = '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><r:Fault xmlns:r="urn:app"/></s:Body></s:Envelope>'
    assert.equal(isSoapFault(Buffer.from(fault11)), true)
    assert.equal(isSoapFault(Buffer.from(fault12)), true)
    assert.equal(isSoapFault(Buffer.from(answer)), false, 'an application element named Fault is not a SOAP Fault')
    assert.equal(isSoapFault(Buffer.from('<html>error</html>')), false)
    assert.equal(isSoapFault(Buffer.from('not xml <')), false)
  })
})

describe('SOAP sessions', () => {
  test("the session id is the text of the Axis2 ServiceGroupId header, WSO2's soap session type", () => {
    const envelope = (header: string) =>
      Buffer.from(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>${header}</s:Header><s:Body><x/></s:Body></s:Envelope>`)
    assert.equal(soapSessionId(envelope('<a:ServiceGroupId xmlns:a="http://ws.apache.org/namespaces/axis2"> urn:uuid:42 </a:ServiceGroupId>')), 'urn:uuid:42')
    assert.equal(soapSessionId(envelope('<ServiceGroupId xmlns="urn:other">urn:uuid:42</ServiceGroupId>')), undefined, 'another namespace is not the session')
    assert.equal(soapSessionId(envelope('<t:Tenant xmlns:t="urn:t">acme</t:Tenant>'), { namespace: 'urn:t', name: 'Tenant' }), 'acme')
    assert.equal(soapSessionId(Buffer.from('<x/>')), undefined)
  })
})

describe('WSDL over HTTP', () => {
  test('a WCF-style WSDL whose imports are ?wsdl=wsdl0 and ?xsd=xsd0 of the same URL keeps those names', async () => {
    const documents: Record<string, string> = {
      '/Service.svc?wsdl': `<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/">
  <wsdl:import namespace="urn:x" location="http://HOST/Service.svc?wsdl=wsdl0"/>
  <wsdl:service name="S"><wsdl:port name="P" binding="b"><soap:address location="http://HOST/Service.svc"/></wsdl:port></wsdl:service>
</wsdl:definitions>`,
      '/Service.svc?wsdl=wsdl0': `<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <wsdl:types><xsd:schema><xsd:import schemaLocation="http://HOST/Service.svc?xsd=xsd0" namespace="urn:x"/><xsd:import schemaLocation="Service.svc?xsd=xsd1" namespace="urn:y"/></xsd:schema></wsdl:types>
</wsdl:definitions>`,
      '/Service.svc?xsd=xsd0': '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x"/>',
      '/Service.svc?xsd=xsd1': '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:y"/>',
    }
    const server = await startBackend((req, res) => {
      const text = documents[req.url!]?.replaceAll('HOST', `127.0.0.1:${server.port}`)
      res.writeHead(text ? 200 : 404, { 'content-type': 'text/xml' })
      res.end(text ?? '')
    })
    try {
      const bundle = await WsdlBundle.load(`${server.url}/Service.svc?wsdl`, 2000)
      assert.equal(bundle.port('S', 'P').address, `${server.url}/Service.svc`)
      assert.match(bundle.render({ kind: 'wsdl', name: '' }, GATEWAY)!, /location="http:\/\/gateway.example\/calc\/v1\?wsdl=wsdl0"/)
      const imported = bundle.render({ kind: 'wsdl', name: 'wsdl0' }, GATEWAY)!
      assert.match(imported, /schemaLocation="http:\/\/gateway.example\/calc\/v1\?xsd=xsd0"/)
      assert.match(imported, /schemaLocation="http:\/\/gateway.example\/calc\/v1\?xsd=xsd1"/)
      assert.match(bundle.render({ kind: 'xsd', name: 'xsd1' }, GATEWAY)!, /targetNamespace="urn:y"/)
    } finally {
      await server.close()
    }
  })
})
