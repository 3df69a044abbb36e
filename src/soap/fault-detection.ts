import { childrenOf, elementsOf, localName, namespaceOf, parseOrdered, scopeOf, tagOf, XmlRefused } from './xml.ts'
import { versionOfEnvelope } from './version.ts'

/** Whether a message is a SOAP envelope (1.1 or 1.2) whose Body holds a Fault. */
export function isSoapFault(message: Buffer): boolean {
  let nodes
  try {
    nodes = parseOrdered(message.toString('utf8'))
  } catch (error) {
    if (error instanceof XmlRefused) return false
    throw error
  }
  const envelope = elementsOf(nodes)[0]
  if (!envelope) return false
  const scope = scopeOf(envelope, new Map())
  const namespace = namespaceOf(tagOf(envelope), scope)
  if (localName(tagOf(envelope)) !== 'Envelope' || !versionOfEnvelope(namespace)) return false
  for (const part of elementsOf(childrenOf(envelope))) {
    const partScope = scopeOf(part, scope)
    if (localName(tagOf(part)) !== 'Body' || namespaceOf(tagOf(part), partScope) !== namespace) continue
    const first = elementsOf(childrenOf(part))[0]
    return first !== undefined && localName(tagOf(first)) === 'Fault' && namespaceOf(tagOf(first), scopeOf(first, partScope)) === namespace
  }
  return false
}
