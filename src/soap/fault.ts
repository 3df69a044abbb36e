import type { ErrorFormatter, GatewayErrorCode } from '../core/errors.ts'
import { CONTENT_TYPE, ENVELOPE_NAMESPACE, requestSoapVersion, type SoapVersion } from './version.ts'

/** Namespace of the `<portico:error>` detail that carries the gateway's stable error code in a Fault. */
export const PORTICO_NAMESPACE = 'urn:portico:error'

export interface FaultContent {
  /** Whether the sender (the client) is at fault rather than the receiver (the gateway or its backend). */
  sender: boolean
  reason: string
  code: GatewayErrorCode
  requestId: string
}

/** A complete SOAP Fault envelope of the given version. */
export function faultEnvelope(version: SoapVersion, fault: FaultContent): string {
  const reason = escapeXml(fault.reason)
  const detail =
    `<portico:error xmlns:portico="${PORTICO_NAMESPACE}"><portico:code>${fault.code}</portico:code>` +
    `<portico:requestId>${escapeXml(fault.requestId)}</portico:requestId></portico:error>`
  const body =
    version === '1.1'
      ? `<soap:Fault><faultcode>soap:${fault.sender ? 'Client' : 'Server'}</faultcode><faultstring>${reason}</faultstring>` +
        `<detail>${detail}</detail></soap:Fault>`
      : `<soap:Fault><soap:Code><soap:Value>soap:${fault.sender ? 'Sender' : 'Receiver'}</soap:Value></soap:Code>` +
        `<soap:Reason><soap:Text xml:lang="en">${reason}</soap:Text></soap:Reason><soap:Detail>${detail}</soap:Detail></soap:Fault>`
  return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${ENVELOPE_NAMESPACE[version]}"><soap:Body>${body}</soap:Body></soap:Envelope>`
}

/**
 * Gateway errors of a SOAP API as SOAP Faults in the request's SOAP version. The status is 500 whatever the
 * error, as the SOAP HTTP bindings (and WS-I Basic Profile) have it for every Fault; the gateway's error code
 * travels in the Fault's detail.
 */
export const soapFaultFormatter: ErrorFormatter = (error, requestHeaders) => {
  const version = requestSoapVersion(requestHeaders)
  return {
    status: 500,
    contentType: CONTENT_TYPE[version],
    body: faultEnvelope(version, { sender: error.status < 500, reason: error.message, code: error.code, requestId: error.requestId }),
  }
}

const XML_SPECIAL = /[&<>"']/g
const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' }

/** Text made safe for XML character data and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(XML_SPECIAL, (char) => XML_ESCAPES[char]!)
}
