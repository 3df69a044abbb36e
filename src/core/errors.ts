import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { FailureKind } from './endpoint.ts'

/** Every error the gateway itself answers with: a stable code, its HTTP status and a default message. */
export const GATEWAY_ERRORS = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  REQUEST_TIMEOUT: { status: 408, message: 'The client did not send the request in time' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than allowed' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large or too many' },
  NO_ROUTE: { status: 404, message: 'No API is served at this path' },
  RESOURCE_NOT_FOUND: { status: 404, message: 'The API has no resource for this path' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'The resource does not accept this method' },
  API_NOT_PUBLISHED: { status: 404, message: 'The API is not published' },
  API_RETIRED: { status: 404, message: 'The API is retired' },
  API_BLOCKED: { status: 503, message: 'The API is blocked' },
  PROTOTYPE_NOT_SERVED: { status: 503, message: 'A prototype endpoint serves only APIs that are CREATED or PROTOTYPED' },
  ENVIRONMENT_NOT_CONFIGURED: { status: 404, message: 'The API has no endpoint for this environment' },
  ENDPOINT_UNAVAILABLE: { status: 503, message: 'No endpoint can take the request now' },
  BACKEND_UNREACHABLE: { status: 502, message: 'The backend could not be reached' },
  BACKEND_CONNECTION_CLOSED: { status: 502, message: 'The backend closed the connection before responding' },
  BACKEND_BAD_RESPONSE: { status: 502, message: 'The backend sent an invalid response' },
  BACKEND_ERROR: { status: 502, message: 'The backend answered with a failure status' },
  BACKEND_AUTH_FAILED: { status: 502, message: 'The gateway could not authenticate to the backend' },
  BACKEND_TIMEOUT: { status: 504, message: 'The backend did not respond in time' },
  LAMBDA_FUNCTION_ERROR: { status: 502, message: 'The Lambda function failed' },
  MISSING_CREDENTIALS: { status: 401, message: 'The API requires a credential and the request carries none' },
  INVALID_CREDENTIALS: { status: 401, message: 'The credential is not valid' },
  INSUFFICIENT_SCOPE: { status: 403, message: 'The token lacks a scope this resource requires' },
  AUTH_SERVER_UNAVAILABLE: { status: 503, message: 'The authorization server could not be asked about the credential' },
  CORS_NOT_ALLOWED: { status: 403, message: 'The origin or method is not allowed by the API\'s CORS policy' },
  THROTTLED: { status: 429, message: 'The request exceeds a rate limit or quota' },
  THROTTLING_UNAVAILABLE: { status: 503, message: 'The rate-limit store cannot be reached and the API fails closed' },
  BACKEND_AT_CAPACITY: { status: 503, message: 'The backend is at the request rate or concurrency the gateway allows it' },
  INTERNAL_ERROR: { status: 500, message: 'The gateway failed to handle the request' },
  UPGRADE_NOT_SUPPORTED: { status: 501, message: 'The gateway does not switch protocols: WebSocket is not supported' },
  LOOP_DETECTED: { status: 508, message: 'The request came back to the gateway it passed through' },
  TARGET_NOT_SET: { status: 500, message: "The API's mediation set no target for its dynamic endpoint" },
  TARGET_NOT_ALLOWED: { status: 403, message: "The target address is not allowed by the API's dynamic endpoint" },
} as const satisfies Record<string, { status: number; message: string }>

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS

/** The error code a client sees for a backend failure of the given kind. */
export function errorCodeForFailure(kind: FailureKind): GatewayErrorCode {
  switch (kind) {
    case 'connect-timeout':
    case 'read-timeout':
      return 'BACKEND_TIMEOUT'
    case 'reset':
      return 'BACKEND_CONNECTION_CLOSED'
    case 'protocol':
      return 'BACKEND_BAD_RESPONSE'
    case 'status':
    case 'soap-fault':
      return 'BACKEND_ERROR'
    case 'client-body':
      return 'BAD_REQUEST'
    case 'unavailable':
      return 'ENDPOINT_UNAVAILABLE'
    case 'auth':
      return 'BACKEND_AUTH_FAILED'
    case 'no-target':
      return 'TARGET_NOT_SET'
    case 'target-refused':
      return 'TARGET_NOT_ALLOWED'
    case 'at-capacity':
      return 'BACKEND_AT_CAPACITY'
    case 'aborted':
    case 'connect-refused':
    case 'connect-failed':
    case 'dns':
    case 'tls':
      return 'BACKEND_UNREACHABLE'
  }
}

/**
 * The one JSON shape of every error the gateway answers itself: `{ code, message, requestId, traceId?, ...details }`;
 * `traceId` when the request is traced, so that a client's report leads to its trace.
 */
export function errorBody(code: string, message: string, requestId: string, details: object = {}, traceId?: string): string {
  return JSON.stringify(traceId === undefined ? { code, message, requestId, ...details } : { code, message, requestId, traceId, ...details })
}

/**
 * Renders a gateway error in an API's own format instead of JSON (a SOAP API answers with SOAP Faults). It sees
 * the client's request headers, to answer in the client's dialect.
 */
export type ErrorFormatter = (
  error: { code: GatewayErrorCode; status: number; message: string; requestId: string },
  requestHeaders: IncomingHttpHeaders,
) => { status: number; contentType: string; body: string }

/**
 * Writes a gateway error as `{ code, message, requestId }` JSON, with any extra headers given as a flat list;
 * or, given a formatter and the request's headers, in the format the formatter renders.
 */
export function sendError(
  res: ServerResponse,
  code: GatewayErrorCode,
  requestId: string,
  message: string = GATEWAY_ERRORS[code].message,
  extraHeaders: readonly string[] = [],
  format?: { formatter: ErrorFormatter; requestHeaders: IncomingHttpHeaders },
  traceId?: string,
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const formatted = format?.formatter({ code, status: GATEWAY_ERRORS[code].status, message, requestId }, format.requestHeaders)
  const body = formatted ? formatted.body : errorBody(code, message, requestId, {}, traceId)
  res.writeHead(formatted ? formatted.status : GATEWAY_ERRORS[code].status, [
    'content-type', formatted ? formatted.contentType : 'application/json',
    'content-length', String(Buffer.byteLength(body)),
    'x-request-id', requestId,
    'cache-control', 'no-store',
    ...extraHeaders,
  ])
  res.end(body)
}
