import { createRequire } from 'node:module'
import { DOMParser, type Document as XmlDocument, type Node as XmlNode } from '@xmldom/xmldom'
import { JSONPath } from 'jsonpath-plus'

/**
 * Reading a message's payload: JSONPath (jsonpath-plus) over JSON bodies and XPath 1.0 (xpath, over an
 * @xmldom/xmldom document) over XML bodies. A body is parsed at most once per message, and only when a
 * mediator asks.
 */

/** xpath's own typings omit `parse` (the compile-once entry point) and pull the DOM library into the build. */
interface XPathEvaluator {
  evaluateString(options: XPathOptions): string
  evaluateBoolean(options: XPathOptions): boolean
}
interface XPathOptions {
  node: XmlNode
  namespaces: Record<string, string>
  variables: (name: string, namespace: string | null) => unknown
}
const xpath = createRequire(import.meta.url)('xpath') as { parse(expression: string): XPathEvaluator }

const SOAP_ENVELOPES = new Set(['http://schemas.xmlsoap.org/soap/envelope/', 'http://www.w3.org/2003/05/soap-envelope'])

/**
 * A body too large to parse into a DOM on the event loop: xmldom builds one object per node, and a 9.5 MB body
 * held the loop for seconds, stalling every other API's requests. The mediation answers 413 (or 502 for a
 * response) rather than letting the value be absent, which would silently change routing.
 */
export class XmlTooLarge extends Error {}

/** First character of an XML document (after optional whitespace or a byte order mark). */
const XML_START = /^[\s\uFEFF]*</
/** A document type declaration: SOAP forbids one, and an XPath source treats such a body as not XML. */
const DOCTYPE = /<!DOCTYPE/i

/** One message's body, parsed lazily: as JSON, as XML, or neither. */
export class Payload {
  readonly bytes: Buffer
  readonly #xmlLimit: number
  #json: unknown = undefined
  #jsonParsed = false
  #xml: XmlDocument | null | undefined = undefined

  /** `xmlLimit`: the largest body `xml()` parses (`limits.mediationXmlBytes`). */
  constructor(bytes: Buffer, xmlLimit: number) {
    this.bytes = bytes
    this.#xmlLimit = xmlLimit
  }

  /** The body as JSON, or undefined when it is not JSON. */
  json(): unknown {
    if (!this.#jsonParsed) {
      this.#jsonParsed = true
      try {
        this.#json = JSON.parse(this.bytes.toString('utf8'))
      } catch {
        this.#json = undefined
      }
    }
    return this.#json
  }

  /**
   * The body as an XML document, or null when it is not well-formed XML (JSON, text, empty, or with a DTD).
   * Throws XmlTooLarge for an XML body over the limit.
   */
  xml(): XmlDocument | null {
    if (this.#xml === undefined) this.#xml = this.#parseXml()
    return this.#xml
  }

  #parseXml(): XmlDocument | null {
    const text = this.bytes.toString('utf8')
    // Only what starts like XML is held to the DOM limit: a big JSON body to an XPath source has no XML value.
    if (!XML_START.test(text) || DOCTYPE.test(text)) return null
    if (this.bytes.length > this.#xmlLimit) {
      throw new XmlTooLarge(`${this.bytes.length} bytes, more than limits.mediationXmlBytes (${this.#xmlLimit}) that an XPath source may parse`)
    }
    let failed = false
    const onError = (level: string) => {
      if (level !== 'warning') failed = true
    }
    try {
      // xmldom never fetches external entities or DTDs, so a body cannot make the gateway read files or URLs.
      const document = new DOMParser({ onError }).parseFromString(text, 'text/xml')
      return failed || !document.documentElement ? null : document
    } catch {
      // xmldom throws on fatal errors (no root element, mismatched tags) even with onError set.
      return null
    }
  }
}

export interface JsonPathQuery {
  readonly kind: 'jsonPath'
  read(payload: Payload): unknown
}

/** Compiles a JSONPath; a single match is the value itself, several are a list, none is undefined. */
export function compileJsonPath(path: string): JsonPathQuery {
  // jsonpath-plus parses lazily and caches the parsed path by its text, so the first evaluation here warms it.
  JSONPath({ path, json: {}, wrap: true, eval: 'safe' })
  return {
    kind: 'jsonPath',
    read(payload) {
      const json = payload.json()
      if (json === undefined || json === null || typeof json !== 'object') return undefined
      const found = JSONPath({ path, json, wrap: true, eval: 'safe' }) as unknown[]
      if (found.length === 0) return undefined
      return found.length === 1 ? found[0] : found
    },
  }
}

export function jsonPathProblem(path: string): string | undefined {
  if (!path.startsWith('$')) return 'must be a JSONPath starting with "$", e.g. "$.order.service"'
  try {
    compileJsonPath(path)
    return undefined
  } catch (error) {
    return `is not a valid JSONPath: ${(error as Error).message}`
  }
}

export interface XPathQuery {
  readonly kind: 'xpath'
  read(payload: Payload, property: (name: string) => unknown): string | undefined
  test(payload: Payload, property: (name: string) => unknown): boolean
}

/**
 * Compiles an XPath 1.0 expression with its namespace prefixes. As in Synapse, `$body` and `$header` are the
 * SOAP Body and Header elements, and `$ctx:name` reads the property `name`.
 */
export function compileXPath(expression: string, namespaces: Record<string, string> = {}): XPathQuery {
  const evaluator = xpath.parse(expression)
  const allNamespaces = { ctx: 'urn:portico:properties', ...namespaces }
  const options = (document: XmlDocument, property: (name: string) => unknown): XPathOptions => ({
    node: document,
    namespaces: allNamespaces,
    variables: (name, namespace) => {
      if (namespace === allNamespaces.ctx) {
        const value = property(name)
        return value === undefined || value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)
      }
      if (namespace) return undefined
      if (name === 'body' || name === 'header') return soapPart(document, name === 'body' ? 'Body' : 'Header')
      return undefined
    },
  })
  return {
    kind: 'xpath',
    read(payload, property) {
      const document = payload.xml()
      return document ? evaluator.evaluateString(options(document, property)) : undefined
    },
    test(payload, property) {
      const document = payload.xml()
      return document ? evaluator.evaluateBoolean(options(document, property)) : false
    },
  }
}

export function xpathProblem(expression: string): string | undefined {
  try {
    compileXPath(expression)
    return undefined
  } catch (error) {
    return `is not a valid XPath: ${(error as Error).message}`
  }
}

/** The SOAP envelope's Body or Header element (SOAP 1.1 or 1.2); an empty node set otherwise. */
function soapPart(document: XmlDocument, localName: 'Body' | 'Header'): XmlNode[] {
  const envelope = document.documentElement
  if (!envelope || envelope.localName !== 'Envelope' || !SOAP_ENVELOPES.has(envelope.namespaceURI ?? '')) return []
  for (let child = envelope.firstChild; child; child = child.nextSibling) {
    if (child.localName === localName && child.namespaceURI === envelope.namespaceURI) return [child]
  }
  return []
}

