import { XMLParser, XMLValidator } from 'fast-xml-parser'

/**
 * XML parsing for SOAP messages, WSDL and XSD documents, safe against hostile input. A document type
 * declaration is refused outright: SOAP forbids one in a message (SOAP 1.1 §3, SOAP 1.2 Part 1 §5), and without
 * a DTD there is nothing to expand (billion laughs) and no external entity to fetch (XXE). fast-xml-parser
 * itself never fetches external entities either; refusing the DTD keeps us independent of its defaults.
 */
export class XmlRefused extends Error {}

const DOCTYPE = /<!DOCTYPE/i

/**
 * Whether `<!DOCTYPE` appears anywhere, comments and CDATA included. fast-xml-parser reads (and expands) a DTD
 * even in the middle of a document, and telling a real declaration from text in a comment takes a real XML
 * tokenizer (a `<!--` inside a processing instruction fooled a regular expression); a SOAP message may not
 * carry a DTD at all, so refusing the word everywhere costs a legitimate client nothing.
 */
function hasDoctype(text: string): boolean {
  return DOCTYPE.test(text)
}

/** The parsers refuse a document nested deeper (fast-xml-parser's own default, written out for the envelope scan). */
export const MAX_NESTED_TAGS = 100

/** An element in document order, as fast-xml-parser's `preserveOrder` mode gives it. */
export type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, string> }

const ordered = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  // Text stays exactly as written (entities undecoded, no trimming, no number parsing) so a rewritten WSDL
  // differs from its source only where it was rewritten.
  processEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
  maxNestedTags: MAX_NESTED_TAGS,
})

const plain = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: true,
  numberParseOptions: { hex: false, leadingZeros: false, eNotation: false },
  processEntities: true,
  htmlEntities: false,
  trimValues: true,
  maxNestedTags: MAX_NESTED_TAGS,
})

/** Throws XmlRefused with a message for the client when `text` has a DTD or is not well-formed XML. */
export function checkWellFormed(text: string): void {
  if (hasDoctype(text)) {
    throw new XmlRefused('a document type declaration (<!DOCTYPE ...>) is not allowed: SOAP forbids it, and it could define entities')
  }
  const result = XMLValidator.validate(text)
  if (result !== true) {
    const where = result.err.col ? `line ${result.err.line}, column ${result.err.col}` : `line ${result.err.line}`
    throw new XmlRefused(`not well-formed XML: ${result.err.msg} (${where})`)
  }
}

/** The document as ordered nodes, text and attributes untouched; for documents that are rewritten. */
export function parseOrdered(text: string): OrderedNode[] {
  checkWellFormed(text)
  return refusing(() => ordered.parse(text) as OrderedNode[])
}

/** The document as plain values, namespace prefixes and attributes dropped, numbers parsed; for JSON output. */
export function parsePlain(text: string): Record<string, unknown> {
  checkWellFormed(text)
  return refusing(() => plain.parse(text) as Record<string, unknown>)
}

/** The parser's own limits (such as its nesting depth) refuse a document too. */
function refusing<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    throw new XmlRefused(`cannot be parsed: ${(error as Error).message}`, { cause: error })
  }
}

/** The tag name of an ordered node (its one key besides `:@`). */
export function tagOf(node: OrderedNode): string {
  for (const key in node) if (key !== ':@') return key
  return ''
}

/** The children of an ordered node. */
export function childrenOf(node: OrderedNode): OrderedNode[] {
  const children = node[tagOf(node)]
  return Array.isArray(children) ? (children as OrderedNode[]) : []
}

/** `soap:Envelope` → `Envelope`. */
export function localName(tag: string): string {
  const colon = tag.indexOf(':')
  return colon < 0 ? tag : tag.slice(colon + 1)
}

/** `soap:Envelope` → `soap`; `Envelope` → ''. */
export function prefixOf(tag: string): string {
  const colon = tag.indexOf(':')
  return colon < 0 ? '' : tag.slice(0, colon)
}

/** Namespace declarations in scope: the parent's, overridden by this element's `xmlns` attributes. */
export function scopeOf(node: OrderedNode, parent: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  const attributes = node[':@']
  if (!attributes) return parent
  let scope: Map<string, string> | undefined
  for (const name in attributes) {
    if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue
    scope ??= new Map(parent)
    scope.set(name === 'xmlns' ? '' : name.slice(6), attributes[name]!)
  }
  return scope ?? parent
}

/** The namespace URI of an element's tag in the given scope. */
export function namespaceOf(tag: string, scope: ReadonlyMap<string, string>): string | undefined {
  return scope.get(prefixOf(tag))
}

/** Elements of a document (or of a node's children), skipping the XML declaration, comments and text. */
export function elementsOf(nodes: readonly OrderedNode[]): OrderedNode[] {
  return nodes.filter((node) => {
    const tag = tagOf(node)
    return tag !== '' && tag[0] !== '?' && tag[0] !== '#'
  })
}
