import { basename, dirname, resolve } from 'node:path'
import { XMLBuilder } from 'fast-xml-parser'
import { request, type Dispatcher } from 'undici'
import { LocalFileProblem, readLocalFile, readLocalFileSync } from '../core/local-file.ts'
import { BodyTooLarge, readBody } from '../core/body.ts'
import { childrenOf, elementsOf, localName, namespaceOf, parseOrdered, prefixOf, scopeOf, tagOf, type OrderedNode } from './xml.ts'
import { escapeXml } from './fault.ts'
import type { SoapVersion } from './version.ts'

const WSDL11_SOAP = 'http://schemas.xmlsoap.org/wsdl/soap/'
const WSDL11_SOAP12 = 'http://schemas.xmlsoap.org/wsdl/soap12/'
const WSDL11_HTTP = 'http://schemas.xmlsoap.org/wsdl/http/'
const WSDL20 = 'http://www.w3.org/ns/wsdl'
/** WS-Addressing (the W3C recommendation and the 2004 submission): WCF repeats a port's address in an EndpointReference. */
const ADDRESSING = new Set(['http://www.w3.org/2005/08/addressing', 'http://schemas.xmlsoap.org/ws/2004/08/addressing'])

/** The namespaces an undeclared prefix most likely stood for, to name the declaration that is missing. */
const USUAL_PREFIXES: Record<string, string> = {
  wsdl: 'http://schemas.xmlsoap.org/wsdl/',
  soap: WSDL11_SOAP,
  soap12: WSDL11_SOAP12,
  http: WSDL11_HTTP,
  mime: 'http://schemas.xmlsoap.org/wsdl/mime/',
  xsd: 'http://www.w3.org/2001/XMLSchema',
  xs: 'http://www.w3.org/2001/XMLSchema',
  s: 'http://www.w3.org/2001/XMLSchema',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  soapenc: 'http://schemas.xmlsoap.org/soap/encoding/',
  wsaw: 'http://www.w3.org/2006/05/addressing/wsdl',
  wsa10: 'http://www.w3.org/2005/08/addressing',
}

/** Most documents one WSDL may pull in through imports and includes. */
const MAX_DOCUMENTS = 64
/** Largest WSDL or XSD document read from a file or a URL. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

/**
 * Where the gateway's own URL goes in a served document. NUL cannot occur in XML 1.0, so it never collides
 * with the document's text; each request replaces it with the URL the client used.
 */
const GATEWAY_URL = '\u0000'

export class WsdlProblem extends Error {}

/** A service port (WSDL 1.1) or endpoint (WSDL 2.0) and the address it names. */
export interface WsdlPort {
  service: string
  port: string
  /** Absolute: a relative address is resolved against the URL of the WSDL document it appears in. */
  address: string
  /** SOAP 1.1 or 1.2 after the address element's namespace; undefined for WSDL 2.0 endpoints. */
  version: SoapVersion | undefined
  /** Why the address cannot be used (not an http(s) URL, or relative in a document read from a file). */
  problem?: string | undefined
}

/** A WSDL or XSD document as it is served: `?wsdl` for the root, `?wsdl=<name>` or `?xsd=<name>` for the rest. */
interface ServedDocument {
  kind: 'wsdl' | 'xsd'
  name: string
  /** The text with every address and import location pointing at GATEWAY_URL. */
  text: string
}

interface LoadedDocument {
  location: string
  nodes: OrderedNode[]
  kind: 'wsdl' | 'xsd'
  /** Attributes that point at other documents: rewritten once every document's served name is known. */
  references: Array<{ attributes: Record<string, string>; name: string; location: string }>
  /** Prefixes used on elements or attributes without a declaration in scope, each with the first name using it. */
  undeclared: Map<string, string>
}

/**
 * A WSDL with every document it imports, ready to serve with the gateway as the service's address. Loaded once;
 * rendering for a request only substitutes the gateway's URL into prepared text.
 */
export class WsdlBundle {
  readonly ports: readonly WsdlPort[]
  readonly #documents: ReadonlyMap<string, ServedDocument>

  private constructor(ports: WsdlPort[], documents: Map<string, ServedDocument>) {
    this.ports = ports
    this.#documents = documents
  }

  /**
   * Loads the WSDL at `source` (a file path or an http(s) URL) and, recursively, what it imports; documents at
   * http(s) URLs are read with `get` (a wsdl endpoint's TLS settings and credentials).
   */
  static async load(source: string, timeoutMs: number, get: DocumentGet = plainGet): Promise<WsdlBundle> {
    const loaded: LoadedDocument[] = []
    const byLocation = new Map<string, LoadedDocument>()
    const queue = [absoluteLocation(source, undefined)]
    const ports: WsdlPort[] = []
    while (queue.length > 0) {
      const location = queue.shift()!
      if (byLocation.has(location)) continue
      if (loaded.length >= MAX_DOCUMENTS) throw new WsdlProblem(`${source} imports more than ${MAX_DOCUMENTS} documents`)
      let nodes: OrderedNode[]
      try {
        nodes = parseOrdered(await readDocument(location, timeoutMs, get))
      } catch (error) {
        throw new WsdlProblem(`cannot load ${location}: ${(error as Error).message}`, { cause: error })
      }
      const document = inspect(location, nodes, ports)
      const undeclared = undeclaredProblem(document)
      if (undeclared) throw new WsdlProblem(undeclared)
      loaded.push(document)
      byLocation.set(location, document)
      for (const reference of document.references) queue.push(reference.location)
    }
    if (loaded[0]!.kind !== 'wsdl') throw new WsdlProblem(`${source} is not a WSDL document (its root is not <definitions> or <description>)`)
    return new WsdlBundle(ports, serve(loaded, byLocation))
  }

  /** The address of a service's port, or a WsdlProblem that lists the ports there are. */
  port(service: string, port: string): WsdlPort {
    return findPort(this.ports, service, port)
  }

  /**
   * The document asked for by a `?wsdl` style query, with `gatewayUrl` as the service address and the base of
   * every import; undefined when the query names no document of this WSDL.
   */
  render(query: WsdlQuery, gatewayUrl: string): string | undefined {
    const document = this.#documents.get(query.kind === 'wsdl' && query.name === '' ? '' : `${query.kind}=${query.name}`)
    return document?.text.replaceAll(GATEWAY_URL, escapeXml(gatewayUrl))
  }
}

export interface WsdlQuery {
  kind: 'wsdl' | 'xsd'
  /** The document's name; '' for the WSDL itself. */
  name: string
}

/**
 * `wsdl`, `WSDL`, `wsdl=<name>` or `xsd=<name>` as a query string; undefined for any other query. Any name is
 * taken, so that a document the WSDL does not have is a 404 from the gateway rather than a question to the backend.
 */
export function wsdlQuery(query: string): WsdlQuery | undefined {
  // WCF's `?singleWsdl` asks for the WSDL with everything inlined: the gateway's WSDL, whose imports it also
  // serves, answers it rather than the backend's own document and addresses.
  const lower = query.toLowerCase()
  if (lower === 'wsdl' || lower === 'singlewsdl') return { kind: 'wsdl', name: '' }
  const match = /^(wsdl|xsd)=(.*)$/i.exec(query)
  return match ? { kind: match[1]!.toLowerCase() as 'wsdl' | 'xsd', name: match[2]! } : undefined
}

/**
 * What is wrong with a WSDL file for the given service and port, read synchronously so that `portico validate`
 * reports it; only the file itself is read, not what it imports. Undefined when the port is there.
 */
export function wsdlFileProblem(file: string, service: string, port: string): string | undefined {
  let nodes: OrderedNode[]
  try {
    nodes = parseOrdered(readLocalFileSync(file, MAX_DOCUMENT_BYTES).toString('utf8'))
  } catch (error) {
    if (error instanceof LocalFileProblem) return error.message
    return `cannot use ${file}: ${(error as Error).message}`
  }
  const ports: WsdlPort[] = []
  const document = inspect(file, nodes, ports)
  const undeclared = undeclaredProblem(document)
  if (undeclared) return undeclared
  if (document.kind !== 'wsdl') return `${file} is not a WSDL document (its root is not <definitions> or <description>)`
  // The service may sit in a WSDL this one imports; that is only known once the imports are loaded.
  if (ports.length === 0 && document.references.length > 0) return undefined
  try {
    findPort(ports, service, port)
    return undefined
  } catch (error) {
    return (error as Error).message
  }
}

function findPort(ports: readonly WsdlPort[], service: string, port: string): WsdlPort {
  const found = ports.find((candidate) => candidate.service === service && candidate.port === port)
  if (found?.problem) throw new WsdlProblem(found.problem)
  if (found) return found
  const known = ports.map((candidate) => `${candidate.service}/${candidate.port}`).join(', ') || 'none'
  throw new WsdlProblem(`has no SOAP port "${port}" in service "${service}"; its SOAP ports (service/port): ${known}`)
}

/**
 * The document's kind, the ports it declares and the references it makes to other documents. Every address a
 * client could use to reach the service without the gateway is pointed at GATEWAY_URL: SOAP 1.1 and 1.2
 * addresses, HTTP GET/POST binding addresses, WSDL 2.0 endpoints and WS-Addressing endpoint references.
 */
function inspect(location: string, nodes: OrderedNode[], ports: WsdlPort[]): LoadedDocument {
  const root = elementsOf(nodes)[0]
  const rootName = root ? localName(tagOf(root)) : ''
  const document: LoadedDocument = {
    location,
    nodes,
    kind: rootName === 'definitions' || rootName === 'description' ? 'wsdl' : 'xsd',
    references: [],
    undeclared: new Map(),
  }
  const walk = (node: OrderedNode, scope: ReadonlyMap<string, string>, parents: readonly OrderedNode[]): void => {
    const tag = tagOf(node)
    const name = localName(tag)
    const inner = scopeOf(node, scope)
    noteUndeclared(tag, inner, document.undeclared)
    const attributes = node[':@']
    const parent = parents.at(-1)
    const inPort = parent !== undefined && localName(tagOf(parent)) === 'port'
    if (attributes) {
      for (const attribute in attributes) if (!attribute.startsWith('xmlns')) noteUndeclared(attribute, inner, document.undeclared, true)
      const namespace = namespaceOf(tag, inner)
      if (name === 'address' && attributes.location !== undefined && inPort) {
        if (namespace === WSDL11_SOAP || namespace === WSDL11_SOAP12) {
          const service = parents.at(-2)?.[':@']?.name ?? ''
          const port = parent[':@']?.name ?? ''
          ports.push({ service, port, version: namespace === WSDL11_SOAP ? '1.1' : '1.2', ...serviceAddress(attributes.location, location, port) })
          attributes.location = GATEWAY_URL
        } else if (namespace === WSDL11_HTTP) {
          attributes.location = GATEWAY_URL
        }
      } else if (name === 'endpoint' && attributes.address !== undefined && namespace === WSDL20) {
        const port = attributes.name ?? ''
        ports.push({ service: parent?.[':@']?.name ?? '', port, version: undefined, ...serviceAddress(attributes.address, location, port) })
        attributes.address = GATEWAY_URL
      } else if (name === 'import' || name === 'include' || name === 'redefine' || name === 'override') {
        const attribute = attributes.schemaLocation !== undefined ? 'schemaLocation' : attributes.location !== undefined ? 'location' : undefined
        if (attribute) document.references.push({ attributes, name: attribute, location: absoluteLocation(attributes[attribute]!, location) })
      }
    }
    const children = elementsOf(childrenOf(node))
    if (inPort && name === 'EndpointReference' && ADDRESSING.has(namespaceOf(tag, inner) ?? '')) {
      const address = children.find((child) => localName(tagOf(child)) === 'Address')
      if (address) address[tagOf(address)] = [{ '#text': GATEWAY_URL }]
    }
    if (children.length === 0) return
    const path = [...parents, node]
    for (const child of children) walk(child, inner, path)
  }
  if (root) walk(root, new Map(), [])
  return document
}

/**
 * A port's address made absolute against the URL of the document it is written in, as a client reading that
 * document resolves it (.NET services often write `/service.asmx`); or why it cannot be used.
 */
function serviceAddress(address: string, documentLocation: string, port: string): { address: string; problem?: string } {
  const trimmed = address.trim()
  if (/^https?:\/\//i.test(documentLocation)) {
    try {
      const url = new URL(trimmed, documentLocation)
      if (url.protocol === 'http:' || url.protocol === 'https:') return { address: url.href }
    } catch {
      // Reported below, as any address that is not an http(s) URL.
    }
  } else if (/^https?:\/\/[^/?#\s]/i.test(trimmed) && URL.canParse(trimmed)) {
    return { address: trimmed }
  } else if (!/^[a-z][a-z0-9+.-]*:/i.test(trimmed)) {
    return {
      address: trimmed,
      problem:
        `port "${port}" has the relative address "${trimmed}", which resolves against the URL the WSDL is served from, ` +
        `but ${documentLocation} was read from a file: set wsdl to the service's own WSDL URL (such as ` +
        `https://host${trimmed.startsWith('/') ? '' : '/'}${trimmed}?wsdl), or write the absolute address into the file`,
    }
  }
  return { address: trimmed, problem: `port "${port}" has the address "${trimmed}", which is not an http(s) URL` }
}

/** Records a prefix that has no declaration in scope (`xml` is always bound, `xmlns` declares). */
function noteUndeclared(qualified: string, scope: ReadonlyMap<string, string>, undeclared: Map<string, string>, attribute = false): void {
  const prefix = prefixOf(qualified)
  if (prefix === '' || prefix === 'xml' || prefix === 'xmlns' || scope.has(prefix) || undeclared.has(prefix)) return
  undeclared.set(prefix, attribute ? `attribute ${qualified}` : `<${qualified}>`)
}

/**
 * A document that uses a namespace prefix it never declares is not namespace-well-formed: SOAP clients refuse
 * it, and its elements (a `soap:address` among them) mean nothing. Names each prefix and the likely declaration.
 */
function undeclaredProblem(document: LoadedDocument): string | undefined {
  if (document.undeclared.size === 0) return undefined
  const each = [...document.undeclared].map(([prefix, first]) => {
    const usual = USUAL_PREFIXES[prefix]
    return `"${prefix}" (first on ${first})${usual ? `: declare it, likely as xmlns:${prefix}="${usual}"` : ''}`
  })
  return `${document.location} uses namespace prefixes it never declares, so it is not namespace-well-formed XML: ${each.join('; ')}`
}

const builder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  suppressEmptyNode: true,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
})

/** Names every document, points references at the gateway and builds each document's served text. */
function serve(loaded: LoadedDocument[], byLocation: Map<string, LoadedDocument>): Map<string, ServedDocument> {
  const names = new Map<LoadedDocument, string>()
  const taken = new Set<string>()
  loaded.forEach((document, index) => {
    if (index === 0) return names.set(document, '')
    const base = documentName(document.location)
    let name = base
    for (let n = 2; taken.has(`${document.kind}=${name}`); n++) name = `${base}-${n}`
    taken.add(`${document.kind}=${name}`)
    names.set(document, name)
  })
  const served = new Map<string, ServedDocument>()
  for (const document of loaded) {
    for (const reference of document.references) {
      const target = byLocation.get(reference.location)!
      const name = names.get(target)!
      reference.attributes[reference.name] = name === '' ? `${GATEWAY_URL}?wsdl` : `${GATEWAY_URL}?${target.kind}=${name}`
    }
  }
  for (const document of loaded) {
    const name = names.get(document)!
    served.set(name === '' ? '' : `${document.kind}=${name}`, { kind: document.kind, name, text: builder.build(document.nodes) as string })
  }
  return served
}

/**
 * A served document's name: the name a `?xsd=`/`?wsdl=` query gives it (WCF and Axis2 serve imports so), else its
 * file name.
 */
function documentName(location: string): string {
  const named = /[?&](?:xsd|wsdl)=([^&#]+)/i.exec(location)?.[1]
  const name = named ?? basename(location.replace(/[?#].*$/, ''))
  return (name.replace(/[^A-Za-z0-9._-]/g, '_') || 'document').slice(0, 100)
}

/** A reference made absolute against the document it appears in: a URL, or a file path. */
function absoluteLocation(location: string, base: string | undefined): string {
  if (/^https?:\/\//i.test(location)) return location
  if (base && /^https?:\/\//i.test(base)) {
    const url = new URL(location, base)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WsdlProblem(`${base} refers to ${location}, which is not http(s)`)
    return url.href
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(location) && !/^[a-z]:[\\/]/i.test(location)) {
    throw new WsdlProblem(`cannot load ${location}: only files and http(s) URLs are supported`)
  }
  return base ? resolve(dirname(base), location) : resolve(location)
}

/** Reads a document at an http(s) URL: a GET whose answer is handed back unread. */
export type DocumentGet = (url: string, timeoutMs: number) => Promise<Dispatcher.ResponseData>

const plainGet: DocumentGet = (url, timeoutMs) => request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs })

async function readDocument(location: string, timeoutMs: number, get: DocumentGet): Promise<string> {
  if (!/^https?:\/\//i.test(location)) return (await readLocalFile(location, MAX_DOCUMENT_BYTES)).toString('utf8')
  const response = await get(location, timeoutMs)
  if (response.statusCode !== 200) {
    await response.body.dump()
    throw new WsdlProblem(`${location} answered ${response.statusCode}`)
  }
  try {
    return (await readBody(response.body, MAX_DOCUMENT_BYTES)).toString('utf8')
  } catch (error) {
    response.body.destroy()
    if (error instanceof BodyTooLarge) throw new WsdlProblem(`${location} is ${error.message}`)
    throw error
  }
}
