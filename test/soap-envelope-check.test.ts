import assert from 'node:assert/strict'
import { test } from 'node:test'
import { envelopeProblem, readEnvelope } from '../src/soap/envelope.ts'
import { scanRootElement } from '../src/soap/xml-scan.ts'
import type { SoapVersion } from '../src/soap/version.ts'

const S11 = 'http://schemas.xmlsoap.org/soap/envelope/'
const S12 = 'http://www.w3.org/2003/05/soap-envelope'

/** What the check said when it parsed the whole message: readEnvelope's verdict, then the version. */
function parsedVerdict(text: string, expected: SoapVersion | undefined): string | undefined {
  const envelope = readEnvelope(text)
  if ('problem' in envelope) return envelope.problem
  if (expected && expected !== envelope.version) return `the envelope is SOAP ${envelope.version} but the content type says SOAP ${expected}`
  return undefined
}

const MESSAGES: [string, string][] = [
  ['plain 1.1', `<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="${S11}" xmlns:c="urn:c"><soapenv:Header/><soapenv:Body><c:Add><c:a>2</c:a></c:Add></soapenv:Body></soapenv:Envelope>`],
  ['1.2, default namespace', `<Envelope xmlns="${S12}"><Body><x xmlns="urn:x">1</x></Body></Envelope>`],
  ['self-closing Body', `<s:Envelope xmlns:s="${S11}"><s:Body/></s:Envelope>`],
  ['comments, PIs and text around and between', `<?xml version="1.0"?>\n<!-- a <s:Body> in a comment --><?pi <s:Body>?>\n<s:Envelope xmlns:s="${S11}">\n  <!-- <s:Body/> -->\n  <?keep <s:Body/>?>\n  <s:Header><h>&amp; &lt;s:Body&gt;</h></s:Header>\n  <s:Body>ok</s:Body>\n</s:Envelope>\n`],
  ['a Body only in a comment', `<s:Envelope xmlns:s="${S11}"><!-- <s:Body/> --><s:Header/></s:Envelope>`],
  ['a Body only in CDATA', `<s:Envelope xmlns:s="${S11}"><s:Header><![CDATA[<s:Body/>]]></s:Header></s:Envelope>`],
  ['quoted > and /> in attributes', `<s:Envelope xmlns:s="${S11}" a="x>y" b='/>' c="'>'"><s:Body d=">" e='"/>"'/></s:Envelope>`],
  ['Body under another prefix of the same namespace', `<s:Envelope xmlns:s="${S11}"><t:Body xmlns:t="${S11}"/></s:Envelope>`],
  ['Body in another namespace', `<s:Envelope xmlns:s="${S11}"><x:Body xmlns:x="urn:other"/></s:Envelope>`],
  ['prefix redeclared on the Body', `<s:Envelope xmlns:s="${S11}"><s:Body xmlns:s="urn:other"/></s:Envelope>`],
  ['default namespace redeclared on the Body', `<Envelope xmlns="${S12}"><Body xmlns="urn:other"/></Envelope>`],
  ['Body only inside the Header', `<s:Envelope xmlns:s="${S11}"><s:Header><s:Body/></s:Header></s:Envelope>`],
  ['Header after Body, more children', `<s:Envelope xmlns:s="${S11}"><s:Body/><s:Header/><x:y xmlns:x="urn:x"/></s:Envelope>`],
  ['line breaks and tabs in tags, spaces around =', `<s:Envelope\n\txmlns:s = "${S11}"\n><s:Body\n\txmlns:a='urn:a'\n/>\n</s:Envelope >`],
  ['single-quoted namespace', `<s:Envelope xmlns:s='${S12}'><s:Body></s:Body></s:Envelope>`],
  ['self-closing root', `<s:Envelope xmlns:s="${S11}"/>`],
  ['root not an Envelope', `<s:Letter xmlns:s="${S11}"><s:Body/></s:Letter>`],
  ['Envelope in no namespace', `<Envelope><Body/></Envelope>`],
  ['Envelope in another namespace', `<s:Envelope xmlns:s="urn:nope"><s:Body/></s:Envelope>`],
  ['undeclared prefix', `<s:Envelope><s:Body/></s:Envelope>`],
  ['empty', ''],
  ['blank', ' \n\t'],
  ['not well-formed', `<s:Envelope xmlns:s="${S11}"><s:Body></s:Envelope>`],
  ['text only', 'hello'],
  ['a comment only', '<?xml version="1.0"?><!-- <s:Envelope/> -->'],
  ['a DTD', `<!DOCTYPE s:Envelope [<!ENTITY x "y">]><s:Envelope xmlns:s="${S11}"><s:Body>&x;</s:Body></s:Envelope>`],
  ['non-ASCII names and text', `<s:Envelope xmlns:s="${S11}"><s:Body><ü:été xmlns:ü="urn:ü">ça</ü:été></s:Body></s:Envelope>`],
  ...[98, 99, 100, 101].map((depth): [string, string] => [`content ${depth} elements deep under the Body`, `<s:Envelope xmlns:s="${S11}"><s:Body>${'<a>'.repeat(depth)}x<b/>${'</a>'.repeat(depth)}</s:Body></s:Envelope>`]),
]

test('the envelope check finds what a whole parse finds: the same verdict for every message and content type', () => {
  for (const [name, text] of MESSAGES) {
    for (const expected of [undefined, '1.1', '1.2'] as const) {
      assert.equal(envelopeProblem(Buffer.from(text), expected), parsedVerdict(text, expected), `${name}, content type ${expected ?? 'unknown'}`)
    }
  }
  // The cases above reach every verdict (but "there is no root element", which the validator's "Start tag
  // expected" comes before).
  const verdicts = new Set(MESSAGES.map(([, text]) => parsedVerdict(text, undefined)?.replace(/[:,(].*$/, '')))
  for (const verdict of [undefined, 'cannot be parsed', 'the body is empty', 'the Envelope has no Body', 'not well-formed XML', 'the root element must be a SOAP 1.1 or 1.2 Envelope']) assert.ok(verdicts.has(verdict), `a case gives: ${verdict}`)
})

test('the scanner reads the root and its children with their namespace scopes, skipping what is not markup', () => {
  const scanned = scanRootElement(`<?xml version="1.0"?><!-- <no/> --><r:root xmlns:r="urn:r" xmlns="urn:d" q=">"><a/><!-- <no/> --><![CDATA[<no/>]]><b xmlns="urn:b"><c/></b><r:d xmlns:r="urn:r2">t</r:d></r:root>`)!
  assert.equal(scanned.root.tag, 'r:root')
  assert.deepEqual([...scanned.root.scope], [['r', 'urn:r'], ['', 'urn:d']])
  assert.deepEqual(scanned.children.map((child) => [child.tag, Object.fromEntries(child.scope)]), [
    ['a', { r: 'urn:r', '': 'urn:d' }],
    ['b', { r: 'urn:r', '': 'urn:b' }],
    ['r:d', { r: 'urn:r2', '': 'urn:d' }],
  ])
  assert.equal(scanRootElement('<!-- only a comment -->'), undefined)
})
