import { EndpointError, type FailureKind } from './endpoint.ts'
import { problemText } from './problem.ts'

const BY_CODE: Record<string, FailureKind> = {
  ECONNREFUSED: 'connect-refused',
  EHOSTUNREACH: 'connect-failed',
  ENETUNREACH: 'connect-failed',
  EHOSTDOWN: 'connect-failed',
  EADDRNOTAVAIL: 'connect-failed',
  UND_ERR_CONNECT_TIMEOUT: 'connect-timeout',
  ETIMEDOUT: 'connect-timeout',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_FAIL: 'dns',
  UND_ERR_HEADERS_TIMEOUT: 'read-timeout',
  UND_ERR_BODY_TIMEOUT: 'read-timeout',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_HEADERS_OVERFLOW: 'protocol',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'protocol',
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 'client-body',
  UND_ERR_ABORTED: 'aborted',
  ABORT_ERR: 'aborted',
}

/** Classifies an error thrown by undici (or node:net/tls underneath) into a failure kind. */
export function classifyFailure(error: unknown, endpointId: string): EndpointError {
  if (error instanceof EndpointError) return error
  const err = error as { code?: string; name?: string; message?: string; cause?: { code?: string } }
  const code = err?.code ?? err?.cause?.code ?? ''
  let kind: FailureKind | undefined = BY_CODE[code]
  // undici closes the socket on a 100 or a 101 it did not ask for: a backend's protocol error, not a reset.
  if (code === 'UND_ERR_SOCKET' && /^bad (response|upgrade)$/.test(err.message ?? '')) kind = 'protocol'
  if (!kind && err?.name === 'AbortError') kind = 'aborted'
  if (!kind && (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || code.startsWith('UNABLE_TO'))) kind = 'tls'
  if (!kind && code.startsWith('HPE_')) kind = 'protocol'
  kind ??= 'protocol'
  const detail = `${code ? `${code}: ` : ''}${problemText(error)}`
  return new EndpointError(kind, endpointId, `${endpointId}: ${detail}`, { cause: error })
}
