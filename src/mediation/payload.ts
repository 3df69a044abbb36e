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
 * An XML body too large for an XPath source: over `limits.mediationXmlBytes`, or, for an XPath that reads
 * properties (and so must run on the event loop), over INLINE_XML_BYTES. The mediation answers 413 (or 502 for
 * a response) rather than letting the value be absent, which would silently change routing.
 */
export class XmlTooLarge extends Error {}

/**
 * XML bodies up to this size are parsed and queried on the event loop; larger ones in a worker thread. xmldom
 * builds one object per node: 64 KiB of the densest markup took 30 to 100 ms to parse here and a `//i` query over
 * it as long again, and a 9.5 MB body held the loop for seconds, stalling every other API's requests.
 */
export const INLINE_XML_BYTES = 16 * 1024

/**
 * JSON bodies up to this size are parsed and queried on the event loop; larger ones in the worker thread.
 * JSON.parse is fast (5 to 10 ms per MiB here) but a `$..id` over 5 MiB took 200 ms; below this a body costs
 * a few milliseconds, and does not wait behind a large XML body in the worker.
 */
export const INLINE_JSON_BYTES = 256 * 1024

/**
 * A payload query that reads no property, so that it can be answered before the sequence runs, off the event
 * loop: an XPath read as a string or a boolean, or a JSONPath.
 */
export type PayloadJob =
  | { readonly kind: 'string' | 'boolean'; readonly expression: string; readonly namespaces: Record<string, string> }
  | { readonly kind: 'jsonPath'; readonly path: string }

/** What the worker found for one job: its value, or the message of the error evaluating it threw. */
export type PayloadAnswer = { value: unknown } | { error: string }

/** First character of an XML document (after optional whitespace or a byte order mark). */
const XML_START = /^[\s\uFEFF]*</
/** A document type declaration: SOAP forbids one, and an XPath source treats such a body as not XML. */
const DOCTYPE = /<!DOCTYPE/i

/** One message's body, parsed lazily: as JSON, as XML, or neither. */
export class Payload {
  readonly bytes: Buffer
  readonly #xmlLimit: number
  readonly #inlineXmlBytes: number
  #json: unknown = undefined
  #jsonParsed = false
  #xml: XmlDocument | null | undefined = undefined
  #answers: Map<PayloadJob, PayloadAnswer> | undefined = undefined

  /**
   * `xmlLimit`: the largest XML body an XPath source reads (`limits.mediationXmlBytes`); `inlineXmlBytes`: the
   * largest `xml()` parses where it is called (the worker thread parses up to the limit).
   */
  constructor(bytes: Buffer, xmlLimit: number, inlineXmlBytes = INLINE_XML_BYTES) {
    this.bytes = bytes
    this.#xmlLimit = xmlLimit
    this.#inlineXmlBytes = inlineXmlBytes
  }

  /**
   * Of `jobs`, those the worker thread should answer: XPath queries over XML too large to parse on the event
   * loop (yet within the limit), JSONPath queries over a large body that is not XML.
   */
  offLoopJobs(jobs: readonly PayloadJob[]): PayloadJob[] {
    const length = this.bytes.length
    if (jobs.length === 0 || length <= Math.min(this.#inlineXmlBytes, INLINE_JSON_BYTES)) return []
    const xml = this.#looksLikeXml()
    const xpathOffLoop = xml && length > this.#inlineXmlBytes && length <= this.#xmlLimit
    const jsonOffLoop = !xml && length > INLINE_JSON_BYTES
    return jobs.filter((job) => (job.kind === 'jsonPath' ? jsonOffLoop : xpathOffLoop))
  }

  /** Takes the worker's answers to `jobs`, in order. */
  answered(jobs: readonly PayloadJob[], answers: readonly PayloadAnswer[]): void {
    this.#answers = new Map(jobs.map((job, index) => [job, answers[index]!]))
  }

  /** The worker's answer to `job`, when it was answered off the event loop. */
  answerOf(job: PayloadJob): PayloadAnswer | undefined {
    return this.#answers?.get(job)
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
   * Throws XmlTooLarge for an XML body over the limit, or too large to parse here, on the event loop.
   */
  xml(): XmlDocument | null {
    if (this.#xml === undefined) this.#xml = this.#parseXml()
    return this.#xml
  }

  /** Only what starts like XML, without a DTD, is parsed (and held to the limits): a JSON body has no XML value. */
  #looksLikeXml(): boolean {
    const text = this.bytes.toString('utf8')
    return XML_START.test(text) && !DOCTYPE.test(text)
  }

  #parseXml(): XmlDocument | null {
    if (!this.#looksLikeXml()) return null
    const length = this.bytes.length
    if (length > this.#xmlLimit) {
      throw new XmlTooLarge(`${length} bytes, more than limits.mediationXmlBytes (${this.#xmlLimit}) that an XPath source may read`)
    }
    if (length > this.#inlineXmlBytes) {
      throw new XmlTooLarge(`${length} bytes, more than the ${this.#inlineXmlBytes} an XPath that reads properties ($ctx:) may read: it runs on the event loop`)
    }
    const text = this.bytes.toString('utf8')
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
  /** The job to answer it off the event loop. */
  readonly job: PayloadJob
  read(payload: Payload): unknown
}

/** Compiles a JSONPath; a single match is the value itself, several are a list, none is undefined. */
export function compileJsonPath(path: string): JsonPathQuery {
  // jsonpath-plus parses lazily and caches the parsed path by its text, so the first evaluation here warms it.
  JSONPath({ path, json: {}, wrap: true, eval: 'safe' })
  const job: PayloadJob = { kind: 'jsonPath', path }
  return {
    kind: 'jsonPath',
    job,
    read(payload) {
      const answer = payload.answerOf(job)
      if (answer) return answerValue(answer)
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
  /** The job to answer it off the event loop, for a query that reads no property. */
  readonly job: PayloadJob | undefined
  read(payload: Payload, property: (name: string) => unknown): string | undefined
  test(payload: Payload, property: (name: string) => unknown): boolean
}

/** A variable with a prefix (`$ctx:name`) reads a property; `$body` and `$header` read the message. */
const PROPERTY_VARIABLE = /\$[A-Za-z_][\w.-]*:/

/**
 * Compiles an XPath 1.0 expression with its namespace prefixes. As in Synapse, `$body` and `$header` are the
 * SOAP Body and Header elements, and `$ctx:name` reads the property `name`.
 */
export function compileXPath(expression: string, namespaces: Record<string, string> = {}, kind: 'string' | 'boolean' = 'string'): XPathQuery {
  const evaluator = xpath.parse(expression)
  const job: PayloadJob | undefined = PROPERTY_VARIABLE.test(expression) ? undefined : { expression, namespaces, kind }
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
    job,
    read(payload, property) {
      const answer = job && payload.answerOf(job)
      if (answer) {
        const value = answerValue(answer)
        return value === undefined ? undefined : String(value)
      }
      const document = payload.xml()
      return document ? evaluator.evaluateString(options(document, property)) : undefined
    },
    test(payload, property) {
      const answer = job && payload.answerOf(job)
      if (answer) return answerValue(answer) === true
      const document = payload.xml()
      return document ? evaluator.evaluateBoolean(options(document, property)) : false
    },
  }
}

/** An answer's value; an error the evaluation threw in the worker is thrown here, where the query is read. */
function answerValue(answer: PayloadAnswer): unknown {
  if ('error' in answer) throw new Error(answer.error)
  return answer.value
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

