import { basename, dirname, resolve } from 'node:path'
import { XMLBuilder } from 'fast-xml-parser'
import { request } from 'undici'
import { LocalFileProblem, readLocalFile, readLocalFileSync } from '../core/local-file.ts'
import { BodyTooLarge, readBody } from '../endpoints/body.ts'
import { childrenOf, elementsOf, localName, namespaceOf, parseOrdered, scopeOf, tagOf, type OrderedNode } from './xml.ts'
import { escapeXml } from './fault.ts'
import type { SoapVersion } from './version.ts'

const WSDL11_SOAP = 'http://schemas.xmlsoap.org/wsdl/soap/'
const WSDL11_SOAP12 = 'http://schemas.xmlsoap.org/wsdl/soap12/'
const WSDL20 = 'http://www.w3.org/ns/wsdl'

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
  address: string
  /** SOAP 1.1 or 1.2 after the address element's namespace; undefined for WSDL 2.0 endpoints. */
  version: SoapVersion | undefined
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

  /** Loads the WSDL at `source` (a file path or an http(s) URL) and, recursively, what it imports. */
  static async load(source: string, timeoutMs: number): Promise<WsdlBundle> {
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
        nodes = parseOrdered(await readDocument(location, timeoutMs))
      } catch (error) {
        throw new WsdlProblem(`cannot load ${location}: ${(error as Error).message}`, { cause: error })
      }
      const document = inspect(location, nodes, ports)
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
  if (query.toLowerCase() === 'wsdl') return { kind: 'wsdl', name: '' }
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
  if (found) return found
  const known = ports.map((candidate) => `${candidate.service}/${candidate.port}`).join(', ') || 'none'
  throw new WsdlProblem(`has no SOAP port "${port}" in service "${service}"; its SOAP ports (service/port): ${known}`)
}

/** The document's kind, the ports it declares and the references it makes to other documents. */
function inspect(location: string, nodes: OrderedNode[], ports: WsdlPort[]): LoadedDocument {
  const root = elementsOf(nodes)[0]
  const rootName = root ? localName(tagOf(root)) : ''
  const document: LoadedDocument = {
    location,
    nodes,
    kind: rootName === 'definitions' || rootName === 'description' ? 'wsdl' : 'xsd',
    references: [],
  }
  const walk = (node: OrderedNode, scope: ReadonlyMap<string, string>, parents: readonly OrderedNode[]): void => {
    const tag = tagOf(node)
    const name = localName(tag)
    const inner = scopeOf(node, scope)
    const attributes = node[':@']
    if (attributes) {
      const parent = parents.at(-1)
      if (name === 'address' && attributes.location !== undefined && parent && localName(tagOf(parent)) === 'port') {
        const namespace = namespaceOf(tag, inner)
        if (namespace === WSDL11_SOAP || namespace === WSDL11_SOAP12) {
          const service = parents.at(-2)?.[':@']?.name ?? ''
          ports.push({ service, port: parent[':@']?.name ?? '', address: attributes.location, version: namespace === WSDL11_SOAP ? '1.1' : '1.2' })
          attributes.location = GATEWAY_URL
        }
      } else if (name === 'endpoint' && attributes.address !== undefined && namespaceOf(tag, inner) === WSDL20) {
        ports.push({ service: parents.at(-1)?.[':@']?.name ?? '', port: attributes.name ?? '', address: attributes.address, version: undefined })
        attributes.address = GATEWAY_URL
      } else if (name === 'import' || name === 'include' || name === 'redefine' || name === 'override') {
        const attribute = attributes.schemaLocation !== undefined ? 'schemaLocation' : attributes.location !== undefined ? 'location' : undefined
        if (attribute) document.references.push({ attributes, name: attribute, location: absoluteLocation(attributes[attribute]!, location) })
      }
    }
    const children = elementsOf(childrenOf(node))
    if (children.length === 0) return
    const path = [...parents, node]
    for (const child of children) walk(child, inner, path)
  }
  if (root) walk(root, new Map(), [])
  return document
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

async function readDocument(location: string, timeoutMs: number): Promise<string> {
  if (!/^https?:\/\//i.test(location)) return (await readLocalFile(location, MAX_DOCUMENT_BYTES)).toString('utf8')
  const response = await request(location, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
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
