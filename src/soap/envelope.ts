import { checkWellFormed, MAX_NESTED_TAGS, childrenOf, elementsOf, localName, namespaceOf, parseOrdered, scopeOf, tagOf, XmlRefused, type OrderedNode } from './xml.ts'
import { scanRootElement } from './xml-scan.ts'
import { versionOfEnvelope, type SoapVersion } from './version.ts'

/** An element with the namespace declarations in scope where it stands. */
export interface ScopedElement {
  node: OrderedNode
  scope: ReadonlyMap<string, string>
}

/** A SOAP envelope taken apart: its version and the entries of its Header and Body. */
export interface Envelope {
  version: SoapVersion
  headerEntries: ScopedElement[]
  /** Undefined when the envelope has no Body. */
  bodyEntries: ScopedElement[] | undefined
}

/**
 * Reads a message as a SOAP 1.1 or 1.2 envelope, or says why it is not one (a DTD, not well-formed, another
 * root element, no Body).
 */
export function readEnvelope(text: string): Envelope | { problem: string } {
  if (text.trim() === '') return { problem: 'the body is empty' }
  let nodes
  try {
    nodes = parseOrdered(text)
  } catch (error) {
    if (error instanceof XmlRefused) return { problem: error.message }
    throw error
  }
  const root = elementsOf(nodes)[0]
  if (!root) return { problem: 'there is no root element' }
  const tag = tagOf(root)
  const scope = scopeOf(root, new Map())
  const namespace = namespaceOf(tag, scope)
  const version = versionOfEnvelope(namespace)
  if (localName(tag) !== 'Envelope' || !version) {
    return { problem: `the root element must be a SOAP 1.1 or 1.2 Envelope, got <${tag}> in namespace "${namespace ?? ''}"` }
  }
  const envelope: Envelope = { version, headerEntries: [], bodyEntries: undefined }
  for (const part of elementsOf(childrenOf(root))) {
    const partScope = scopeOf(part, scope)
    if (namespaceOf(tagOf(part), partScope) !== namespace) continue
    const entries = elementsOf(childrenOf(part)).map((node) => ({ node, scope: scopeOf(node, partScope) }))
    const name = localName(tagOf(part))
    if (name === 'Header') envelope.headerEntries = entries
    else if (name === 'Body') envelope.bodyEntries = entries
  }
  if (!envelope.bodyEntries) return { problem: 'the Envelope has no Body' }
  return envelope
}

/**
 * What is wrong with an envelope, or undefined when it is a SOAP envelope of the expected version: what
 * readEnvelope says, found without building the message (a request check reads nothing inside the Body).
 */
export function envelopeProblem(body: Uint8Array, expected: SoapVersion | undefined): string | undefined {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')
  if (text.trim() === '') return 'the body is empty'
  try {
    checkWellFormed(text)
  } catch (error) {
    if (error instanceof XmlRefused) return error.message
    throw error
  }
  const scanned = scanRootElement(text, MAX_NESTED_TAGS)
  if (!scanned) return 'there is no root element'
  // As the parser words it (readEnvelope's message for the same document).
  if (scanned.tooDeep) return 'cannot be parsed: Maximum nested tags exceeded'
  const { root, children } = scanned
  const namespace = namespaceOf(root.tag, root.scope)
  const version = versionOfEnvelope(namespace)
  if (localName(root.tag) !== 'Envelope' || !version) {
    return `the root element must be a SOAP 1.1 or 1.2 Envelope, got <${root.tag}> in namespace "${namespace ?? ''}"`
  }
  if (!children.some((child) => localName(child.tag) === 'Body' && namespaceOf(child.tag, child.scope) === namespace)) return 'the Envelope has no Body'
  if (expected && expected !== version) return `the envelope is SOAP ${version} but the content type says SOAP ${expected}`
  return undefined
}

/** Whether an element has this local name in this namespace. */
export function isElement(element: ScopedElement, namespace: string | undefined, name: string): boolean {
  const tag = tagOf(element.node)
  return localName(tag) === name && namespaceOf(tag, element.scope) === namespace
}
