import { Agent, request, type Dispatcher } from 'undici'
import type { DocumentGet } from '../soap/wsdl.ts'
import type { BackendSecurityConfig } from '../security/schema.ts'
import { createAuthenticator, type Attempt, type Authenticator } from '../security/authenticators.ts'
import { tlsConnectOptions } from '../security/tls.ts'

/** How a wsdl endpoint reads its documents over http(s), and what to release once it is done with them. */
export interface WsdlDocumentReader {
  get: DocumentGet | undefined
  close(): Promise<void>
}

/**
 * Reads a wsdl endpoint's WSDL with the endpoint's own backend security: its TLS settings (an internal CA, a
 * client certificate) for every document over https, and its credentials for documents on the WSDL URL's origin,
 * since Axis2, CXF and WCF services often keep `?wsdl` behind the same Basic or Digest as the service. An import
 * that points at another origin is read without them: credentials go only where the config sent them.
 */
export function wsdlDocumentReader(wsdl: string, security: BackendSecurityConfig | undefined, connectTimeoutMs: number, endpointId: string): WsdlDocumentReader {
  if (!/^https?:\/\//i.test(wsdl) || (!security?.tls && !security?.auth)) return { get: undefined, close: async () => {} }
  const dispatcher = security.tls ? new Agent({ connect: { timeout: connectTimeoutMs, ...tlsConnectOptions(security.tls, endpointId) } }) : undefined
  const authenticator = security.auth ? createAuthenticator(security.auth, endpointId) : undefined
  const origin = new URL(wsdl).origin
  const get: DocumentGet = async (url, timeoutMs) => {
    const target = new URL(url)
    const send = (attempt: Attempt | undefined) =>
      request(url, {
        dispatcher,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        ...(attempt?.header ? { headers: { authorization: attempt.header } } : {}),
      })
    if (!authenticator || target.origin !== origin) return send(undefined)
    return withCredentials(authenticator, { method: 'GET', uri: `${target.pathname}${target.search}`, body: undefined }, send)
  }
  return {
    get,
    close: async () => {
      await authenticator?.close?.()
      await dispatcher?.close()
    },
  }
}

/** One GET with the first credentials, and once more when a 401 challenge can be answered (Digest, a new token). */
async function withCredentials(
  authenticator: Authenticator,
  digestRequest: { method: string; uri: string; body: undefined },
  send: (attempt: Attempt | undefined) => Promise<Dispatcher.ResponseData>,
): Promise<Dispatcher.ResponseData> {
  let attempt = await authenticator.first(digestRequest)
  try {
    let response = await send(attempt)
    if (response.statusCode === 401) {
      const verdict = await authenticator.next(response.headers['www-authenticate'], attempt, digestRequest)
      if (!('refused' in verdict)) {
        await response.body.dump()
        attempt = verdict
        response = await send(attempt)
      }
    }
    authenticator.settle?.(attempt, response.statusCode === 401 ? 'refused' : 'accepted')
    return response
  } catch (error) {
    authenticator.settle?.(attempt, 'failed')
    throw error
  }
}
