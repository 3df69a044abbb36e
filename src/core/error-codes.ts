import type { EndpointError, FailureKind } from './endpoint.ts'

/**
 * The WSO2 (Apache Synapse) error code of each failure kind, so that `errorCodes` lists written for WSO2 keep
 * their meaning. Kinds WSO2 has no code for map to undefined and are named by kind instead.
 */
export const WSO2_ERROR_CODES = {
  'connect-refused': 101503, // CONNECTION_FAILED
  'connect-failed': 101503, // CONNECTION_FAILED
  dns: 101503, // CONNECTION_FAILED: Synapse reports an unknown host as a failed connection
  tls: 101500, // SND_IO_ERROR_SENDING: a failed handshake surfaces as an I/O error while sending
  'connect-timeout': 101508, // CONNECT_TIMEOUT: "request to establish new connection timed out"
  'read-timeout': 101504, // CONNECTION_TIMEOUT: no response within the endpoint timeout
  reset: 101505, // CONNECTION_CLOSED
  protocol: 101506, // NHTTP_PROTOCOL_VIOLATION
  aborted: 101507, // CONNECTION_CANCELLED
  'client-body': 101000, // RCV_IO_ERROR_SENDING: reading the client's request failed
  status: undefined,
  'soap-fault': undefined, // Synapse does not treat a SOAP Fault as an endpoint failure at all
  auth: undefined, // the backend refused the gateway's credentials
  unavailable: undefined,
  'no-target': undefined, // a dynamic endpoint's IN sequence chose no address
  'target-refused': undefined, // a dynamic endpoint's target is not allowed
  'at-capacity': undefined, // WSO2 answers its maxTps with the throttling code 900801 (hard limit exceeded) instead
} as const satisfies Record<FailureKind, number | undefined>

/** Every failure kind, for config validation. */
export const FAILURE_KINDS = Object.keys(WSO2_ERROR_CODES) as FailureKind[]

/** Every WSO2 code a config may name; -1 is WSO2's "any error". */
export const KNOWN_WSO2_CODES: ReadonlySet<number> = new Set([
  -1,
  ...Object.values(WSO2_ERROR_CODES).filter((code): code is NonNullable<typeof code> => code !== undefined),
  101001, // RCV_IO_ERROR_RECEIVING
  101501, // SND_IO_ERROR_RECEIVING
  101509, // SEND_ABORT
  101510, // RESPONSE_PROCESSING_FAILURE
])

/**
 * Failures that say something about the backend. A client that went away, a broken client body, no
 * endpoint being ready, or a dynamic target that was missing or refused never count against a leaf.
 */
export function isBackendFault(kind: FailureKind): boolean {
  return kind !== 'aborted' && kind !== 'client-body' && kind !== 'unavailable' && kind !== 'no-target' && kind !== 'target-refused' && kind !== 'at-capacity'
}

/**
 * Failures that prove the backend never processed the request, so sending it again cannot duplicate it:
 * no connection was made, or the backend answered 429 (RFC 6585: rate limited, not processed; a throttled
 * Lambda invocation never ran the function).
 */
export function neverReachedBackend(failure: Pick<EndpointError, 'kind' | 'status'>): boolean {
  const { kind } = failure
  if (kind === 'status') return failure.status === 429
  return (
    kind === 'connect-refused' || kind === 'connect-failed' || kind === 'connect-timeout' || kind === 'dns' || kind === 'tls' ||
    kind === 'unavailable' || kind === 'no-target' || kind === 'target-refused' || kind === 'at-capacity'
  )
}

/** Whether a failure of `kind` is named by `entries`. */
export function matchesErrorCodes(entries: readonly (number | string)[], kind: FailureKind): boolean {
  const code = WSO2_ERROR_CODES[kind]
  for (const entry of entries) {
    if (entry === -1 || entry === kind || (code !== undefined && entry === code)) return true
  }
  return false
}
