import { childrenOf } from './xml.ts'
import { isElement, readEnvelope } from './envelope.ts'

/** The SOAP header WSO2 (Axis2) keeps a SOAP session in: its `soap` session type reads this one by default. */
export const AXIS2_SESSION_HEADER = { namespace: 'http://ws.apache.org/namespaces/axis2', name: 'ServiceGroupId' }

export interface SessionHeader {
  namespace: string
  name: string
}

/**
 * The session a SOAP request belongs to: the text of the named SOAP header, or undefined when the message
 * has none (or is not a SOAP envelope). Load-balance groups use it as the affinity key of WSO2's `soap`
 * session type; the body must be buffered, which the API's `soap.validate` does.
 */
export function soapSessionId(envelope: Buffer, header: SessionHeader = AXIS2_SESSION_HEADER): string | undefined {
  const read = readEnvelope(envelope.toString('utf8'))
  if ('problem' in read) return undefined
  const entry = read.headerEntries.find((element) => isElement(element, header.namespace, header.name))
  if (!entry) return undefined
  const text = childrenOf(entry.node)
    .map((child) => (typeof child['#text'] === 'string' ? child['#text'] : ''))
    .join('')
    .trim()
  return text || undefined
}
