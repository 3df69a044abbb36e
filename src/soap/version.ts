import type { IncomingHttpHeaders } from 'node:http'

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
 * The SOAP version a request speaks, read from its content type: SOAP 1.2 is `application/soap+xml`, and
 * everything else (SOAP 1.1's `text/xml`, or a request that is not SOAP at all) is answered in SOAP 1.1.
 */
export function requestSoapVersion(headers: IncomingHttpHeaders): SoapVersion {
  const type = headers['content-type']
  return type !== undefined && type.trimStart().toLowerCase().startsWith('application/soap+xml') ? '1.2' : '1.1'
}

/** The version whose envelope namespace this is, or undefined for any other namespace. */
export function versionOfEnvelope(namespace: string | undefined): SoapVersion | undefined {
  if (namespace === ENVELOPE_NAMESPACE['1.1']) return '1.1'
  if (namespace === ENVELOPE_NAMESPACE['1.2']) return '1.2'
  return undefined
}
