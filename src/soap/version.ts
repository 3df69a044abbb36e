import type { IncomingHttpHeaders } from 'node:http'
import { MIMEType } from 'node:util'

/** SOAP 1.1 or 1.2: they differ in envelope namespace, content type, where the action goes and how a Fault looks. */
export type SoapVersion = '1.1' | '1.2'

export const ENVELOPE_NAMESPACE: Record<SoapVersion, string> = {
  '1.1': 'http://schemas.xmlsoap.org/soap/envelope/',
  '1.2': 'http://www.w3.org/2003/05/soap-envelope',
}

export const CONTENT_TYPE: Record<SoapVersion, string> = {
  '1.1': 'text/xml; charset=utf-8',
  '1.2': 'application/soap+xml; charset=utf-8',
}

/**
 * The SOAP version a request speaks, read from its content type (see contentTypeSoapVersion); a request that is
 * not SOAP at all is answered in SOAP 1.1.
 */
export function requestSoapVersion(headers: IncomingHttpHeaders): SoapVersion {
  return contentTypeSoapVersion(headers['content-type']) ?? '1.1'
}

const PLAIN_SOAP_TYPE = /^\s*(text\/xml|application\/soap\+xml)\s*(?:;|$)/i

/**
 * The SOAP version a content type names: `application/soap+xml` is 1.2 and `text/xml` 1.1. An MTOM message
 * (`multipart/related` with `start-info`, or `application/xop+xml` with `type`) names the version of its root
 * part's envelope; undefined when the type names none.
 */
export function contentTypeSoapVersion(contentType: string | undefined): SoapVersion | undefined {
  if (contentType === undefined) return undefined
  // The common cases without a MIME parse: every validated request and every Fault passes here.
  const plain = PLAIN_SOAP_TYPE.exec(contentType)
  if (plain) return plain[1]!.toLowerCase() === 'text/xml' ? '1.1' : '1.2'
  let type: MIMEType
  try {
    type = new MIMEType(contentType.trim())
  } catch {
    return undefined
  }
  if (type.essence === 'application/soap+xml') return '1.2'
  if (type.essence === 'text/xml') return '1.1'
  const inner = type.essence === 'multipart/related' ? (type.params.get('start-info') ?? type.params.get('type')) : type.essence === 'application/xop+xml' ? type.params.get('type') : undefined
  return inner && !/^(multipart\/related|application\/xop\+xml)\b/i.test(inner.trim()) ? contentTypeSoapVersion(inner) : undefined
}

/** The version whose envelope namespace this is, or undefined for any other namespace. */
export function versionOfEnvelope(namespace: string | undefined): SoapVersion | undefined {
  if (namespace === ENVELOPE_NAMESPACE['1.1']) return '1.1'
  if (namespace === ENVELOPE_NAMESPACE['1.2']) return '1.2'
  return undefined
}
